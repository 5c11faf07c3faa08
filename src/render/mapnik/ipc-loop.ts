/**
 * The message loop of a renderer child process: `init` makes the renderer,
 * each `render` is answered with its tiles or a coded failure, `close`
 * finishes and exits. Kept apart from Mapnik (the renderer factory is passed
 * in) so it can be fitted to the worker pool's contract at merge time.
 */
import { codeOf, messageOf } from '../../errors.js';
import type { Renderer } from './renderer.js';
import type { FromRendererProcess, RendererInfo, ToRendererProcess } from './process-protocol.js';

/** The parts of `process` the loop uses (a test can pass its own). */
export interface IpcChannel {
  on(event: 'message', listener: (msg: unknown) => void): unknown;
  on(event: 'disconnect', listener: () => void): unknown;
  send?(msg: FromRendererProcess): unknown;
}

export type RendererFactory = (options: Extract<ToRendererProcess, { type: 'init' }>['options']) => Promise<Renderer & { info(): RendererInfo }>;

export function serveRendererOverIpc(channel: IpcChannel, makeRenderer: RendererFactory, exit: (code: number) => void): void {
  const send = (msg: FromRendererProcess) => channel.send?.(msg);
  let renderer: Promise<Renderer & { info(): RendererInfo }> | undefined;

  const close = async () => {
    await (await renderer?.catch(() => undefined))?.close();
    exit(0);
  };
  channel.on('disconnect', () => void close());
  channel.on('message', (raw) => {
    const msg = raw as ToRendererProcess;
    if (msg?.type === 'init' && renderer === undefined) {
      renderer = makeRenderer(msg.options);
      renderer.then(
        (r) => send({ type: 'ready', info: r.info() }),
        (err) => send({ type: 'init-failed', code: codeOf(err), message: messageOf(err) }),
      );
    } else if (msg?.type === 'render') {
      const fail = (err: unknown) => send({ type: 'failed', id: msg.id, code: codeOf(err), message: messageOf(err) });
      if (renderer === undefined) return fail(new Error('render before init'));
      renderer.then((r) => r.renderMetaTile(msg.meta)).then((tiles) => send({ type: 'rendered', id: msg.id, tiles }), fail);
    } else if (msg?.type === 'close') {
      void close();
    }
  });
}
