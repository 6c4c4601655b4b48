import { setImmediate as nextTurn } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';

/**
 * `global.gc`, or the same function obtained by turning `--expose-gc` on at run time (so the
 * soak also measures heap under a test runner that did not pass the flag).
 */
function findGc(): () => void {
  if (typeof globalThis.gc === 'function') return globalThis.gc as () => void;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

/** Heap in use after full collections, with finalizers given turns to run between them. */
export async function settledHeapBytes(): Promise<number> {
  const gc = findGc();
  for (let round = 0; round < 3; round++) {
    gc();
    await nextTurn();
  }
  return process.memoryUsage().heapUsed;
}
