/** Holding GPU results to a per-element bound against the float64 interpreter. */
import { expect } from 'vitest';
import { EinattnError } from '../../src/errors.ts';
import { f16ArrayToF32, f32ArrayToF16 } from '../../src/runtime/index.ts';
import { f32Allowance } from './bounds.ts';

/**
 * The flash schedule of most precision tests: 2 rows per invocation, no lanes, value columns
 * in chunks of 8, whatever the shape. The default decode schedule specializes its kernel on
 * the row count and dv, and lavapipe takes seconds to compile each (large, unrolled) kernel;
 * with one small schedule random shapes share one kernel. The bounds do not depend on the
 * schedule; a few tests run the default one at realistic shapes.
 */
export const SMALL = { flashSchedule: { rows: 2, workgroup: 8, kvLanes: 1, dvChunk: 8 } } as const;

/**
 * Every |got[i] − want[i]| must be ≤ bound[i] + the f32 allowance for a longest reduction
 * `L`. Returns the largest ratio error / allowed, so tests can report how close they came.
 * @example expectWithin(gpu.o.data, ref.o.data, bounds, 64, 'mha f16')
 */
export function expectWithin(got: ArrayLike<number>, want: ArrayLike<number>, bound: ArrayLike<number>, L: number, what: string): number {
  expect(got.length, what).toBe(want.length);
  let refMax = 0;
  for (let i = 0; i < want.length; i++) refMax = Math.max(refMax, Math.abs(want[i]!));
  const slack = f32Allowance(L, refMax);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i]! - want[i]!);
    const allowed = bound[i]! + slack;
    if (!(err <= allowed)) expect.fail(`${what}: element ${i}: got ${got[i]}, want ${want[i]}, error ${err} > bound ${bound[i]} + f32 allowance ${slack}`);
    worst = Math.max(worst, err / allowed);
  }
  return worst;
}

/** The f16 value nearest to each (f32) element: what f16 storage keeps. */
export function roundF16(x: ArrayLike<number>): Float32Array {
  return f16ArrayToF32(f32ArrayToF16(x));
}

/** Awaits `p` and returns the EinattnError it rejects with (fails if it resolves or throws something else). */
export async function rejects(p: Promise<unknown>): Promise<EinattnError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(EinattnError);
    return e as EinattnError;
  }
  throw new Error('expected an error');
}
