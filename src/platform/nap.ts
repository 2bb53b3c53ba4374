/**
 * Waiting on a WebGPU promise in Node without keeping a core busy. While any GPU promise is
 * pending, Dawn's Node binding polls its events on every `setImmediate` turn, so the main thread
 * spins; on a CPU adapter (lavapipe) that spinning thread takes a core from the kernel it waits
 * for. Here the event loop naps between Dawn's polls instead: each turn, one more `setImmediate`
 * sleeps the thread (`Atomics.wait`) for a slice that grows with the time waited so far, so a
 * promise is noticed at most about a tenth of its wait late (never more than `MAX_SLICE_MS`).
 */

/** The shortest nap: short waits (decode steps of a millisecond) are noticed within this. */
const MIN_SLICE_MS = 0.05;
/** The longest nap, which bounds both the lateness and how long other JavaScript is held up. */
const MAX_SLICE_MS = 0.5;
/** A nap's share of the time waited so far. */
const SLICE_FRACTION = 0.1;

const cell = new Int32Array(new SharedArrayBuffer(4));
let waiting = 0;
let since = 0;

/** One nap per event-loop turn for as long as anything waits; concurrent waits share the chain. */
function nap(): void {
  if (waiting === 0) return;
  const slice = Math.min(MAX_SLICE_MS, Math.max(MIN_SLICE_MS, (performance.now() - since) * SLICE_FRACTION));
  Atomics.wait(cell, 0, 0, slice);
  setImmediate(nap);
}

/**
 * Awaits `p` (a map, a queue's completion) with the event loop napping between turns.
 * @example await awaitNapping(Promise.resolve(7)) // 7
 */
export async function awaitNapping<T>(p: Promise<T>): Promise<T> {
  if (waiting++ === 0) {
    since = performance.now();
    setImmediate(nap);
  }
  try {
    return await p;
  } finally {
    waiting--;
  }
}
