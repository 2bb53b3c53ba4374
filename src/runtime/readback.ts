/**
 * Waiting for the GPU and mapping memory back. Dawn's Node binding polls on every tick
 * while a map is pending, keeping a core busy that a CPU adapter would rather use, so a
 * wait first sleeps through most of the time the same work took last time.
 */
import { EinattnError } from '../errors.ts';
import { retireLostRuntime, type Runtime } from './device.ts';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// Below this an estimate is not worth a timer: the spin costs less than a late wake-up.
const MIN_SLEEP_MS = 4;
// Sleep for this fraction of the last run's time, so a faster run is barely delayed.
const SLEEP_FRACTION = 0.8;
const MAX_ESTIMATES = 1024;

/** Whether the runtime's device is gone (waiting briefly: a lost device rejects a map before `lost` resolves). */
export async function lostOrNull(rt: Runtime): Promise<boolean> {
  if (rt.health.lost) return true;
  await Promise.race([rt.device.lost, sleep(200)]);
  return rt.health.lost !== null;
}

/**
 * Maps `staging` for reading after the work just submitted, sleeping first for most of
 * the time that work with the same `estimateKey` took last time (`null`: do not learn, e.g. first compiles).
 * @example await mapAfterSubmit(rt, staging, 'mha|1,8,128', 'read outputs of mha')
 */
export async function mapAfterSubmit(rt: Runtime, staging: GPUBuffer, estimateKey: string | null, what: string): Promise<void> {
  await waitAfterSubmit(rt, estimateKey, async () => {
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (e) {
      if (await lostOrNull(rt)) throw retireLostRuntime(rt);
      throw new EinattnError('GPU', `${what}: mapping the read-back buffer failed: ${(e as Error).message || (e as Error).name}`);
    }
  });
}

/**
 * Waits for the work just submitted with `wait` (a map, or the queue's completion), sleeping
 * first for most of the time the same work (`estimateKey`) took last time.
 * @example await waitAfterSubmit(rt, 'decode|gqa', () => rt.device.queue.onSubmittedWorkDone())
 */
export async function waitAfterSubmit(rt: Runtime, estimateKey: string | null, wait: () => Promise<void>): Promise<void> {
  const t0 = performance.now();
  const estimate = estimateKey === null ? 0 : (rt.estimates.get(estimateKey) ?? 0);
  if (estimate >= MIN_SLEEP_MS) await sleep(estimate * SLEEP_FRACTION);
  await wait();
  if (estimateKey === null) return;
  // Sizes that change every call (a growing KV length) would grow this map without bound.
  if (rt.estimates.size >= MAX_ESTIMATES) rt.estimates.clear();
  rt.estimates.set(estimateKey, performance.now() - t0);
}
