/**
 * CTC greedy decoding, ppocr/postprocess/rec_postprocess.py
 * (BaseRecLabelDecode, CTCLabelDecode).
 */

/**
 * The class list: index 0 is the CTC blank (add_special_char), then one
 * entry per dictionary line ("\n" / "\r\n" stripped), then " " when
 * use_space_char is on (the PP-OCR default). ppocr_keys_v1.txt has no
 * trailing newline, so a final empty line is not an entry.
 */
export function parseCharset(dictText: string, useSpaceChar: boolean): string[] {
  const lines = dictText.split('\n').map((l) => l.replace(/\r$/, ''));
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return ['', ...lines, ...(useSpaceChar ? [' '] : [])];
}

export interface Decoded {
  text: string;
  /** Mean of the kept steps' max probabilities; 0 when nothing was kept. */
  score: number;
}

/**
 * Per time step take the arg-max class; keep it when it is not the blank
 * (0) and differs from the previous step (is_remove_duplicate).
 * `probs` is [n, T, C] row-major.
 */
export function ctcGreedyDecode(probs: Float32Array, n: number, steps: number, classes: number, charset: readonly string[]): Decoded[] {
  const out: Decoded[] = [];
  for (let b = 0; b < n; b++) {
    let text = '';
    let sum = 0;
    let kept = 0;
    let prev = -1;
    for (let t = 0; t < steps; t++) {
      const base = (b * steps + t) * classes;
      let best = 0;
      let bestP = probs[base]!;
      for (let c = 1; c < classes; c++) {
        const p = probs[base + c]!;
        if (p > bestP) { bestP = p; best = c; }
      }
      if (best !== 0 && best !== prev) {
        text += charset[best] ?? '';
        sum += bestP;
        kept++;
      }
      prev = best;
    }
    out.push({ text, score: kept === 0 ? 0 : sum / kept });
  }
  return out;
}
