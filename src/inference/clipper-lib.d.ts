// The subset of clipper-lib (Angus Johnson's Clipper 6, JS port) used for DB unclip.
declare module 'clipper-lib' {
  interface IntPoint { X: number; Y: number }
  type Path = IntPoint[];
  type Paths = Path[];
  class ClipperOffset {
    constructor(miterLimit?: number, arcTolerance?: number);
    AddPath(path: Path, joinType: number, endType: number): void;
    Execute(solution: Paths, delta: number): void;
  }
  const JoinType: { jtSquare: number; jtRound: number; jtMiter: number };
  const EndType: { etOpenSquare: number; etOpenRound: number; etOpenButt: number; etClosedLine: number; etClosedPolygon: number };
  const ClipperLib: { ClipperOffset: typeof ClipperOffset; JoinType: typeof JoinType; EndType: typeof EndType };
  export default ClipperLib;
}
