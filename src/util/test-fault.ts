/**
 * TEST ONLY: the ways a worker can misbehave, so tests can prove that one
 * bad render or model run fails only its own job. Reachable only through the
 * test-only hooks (RenderPool.injectFaultForTest, MOSAICD_TEST_FAULTS=1).
 */
export type TestFault = 'throw' | 'uncaught' | 'exit' | 'hang';

/**
 * Makes the calling worker misbehave as `what` would: `throw` reports an
 * error as data through `fail`; `uncaught` throws outside any handler; `exit`
 * ends the thread; `hang` spins, as code stuck in native work would.
 */
export function misbehave(kind: TestFault, what: { name: string; worker: string }, fail: (message: string) => void): void {
  switch (kind) {
    case 'throw':
      fail(`test fault: the ${what.name} threw`);
      return;
    case 'uncaught':
      setImmediate(() => {
        throw new Error(`test fault: uncaught exception in the ${what.worker}`);
      });
      return;
    case 'exit':
      process.exit(70);
      return;
    case 'hang':
      for (;;) {
        // Busy for ever.
      }
  }
}
