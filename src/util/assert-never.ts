/** The default of an exhaustive switch: a case left out is a compile error, and a value from outside the type a loud one. */
export function assertNever(value: never, what: string): never {
  throw new Error(`unhandled ${what}: ${JSON.stringify(value)}`);
}
