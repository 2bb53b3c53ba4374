/**
 * Waiting for the GPU and mapping memory back. Every wait goes through the platform's
 * `awaitGpu`: under Node, Dawn's binding polls on every event-loop turn while a map is
 * pending, and the platform naps between its polls so that a CPU adapter keeps both cores.
 */
import { EinattnError } from '../errors.ts';
import { platform } from '../platform/index.ts';
import { retireLostRuntime, type Runtime } from './device.ts';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Whether the runtime's device is gone (waiting briefly: a lost device rejects a map before `lost` resolves). */
export async function lostOrNull(rt: Runtime): Promise<boolean> {
  if (rt.health.lost) return true;
  await Promise.race([rt.device.lost, sleep(200)]);
  return rt.health.lost !== null;
}

/**
 * Maps `staging` for reading after the work just submitted.
 * @example await mapAfterSubmit(rt, staging, 'read outputs of mha')
 */
export async function mapAfterSubmit(rt: Runtime, staging: GPUBuffer, what: string): Promise<void> {
  try {
    await platform.awaitGpu(staging.mapAsync(GPUMapMode.READ));
  } catch (e) {
    if (await lostOrNull(rt)) throw retireLostRuntime(rt);
    throw new EinattnError('GPU', `${what}: mapping the read-back buffer failed: ${(e as Error).message || (e as Error).name}`);
  }
}

/**
 * Waits until the GPU has finished the work submitted to the runtime's queue so far.
 * @example await workDone(rt)
 */
export function workDone(rt: Runtime): Promise<void> {
  return platform.awaitGpu(rt.device.queue.onSubmittedWorkDone());
}
