/** What a command may do to the outside world: write, and set the exit code. */
export interface CliContext {
  exitCode: number;
  out(text: string): void;
  err(text: string): void;
}
