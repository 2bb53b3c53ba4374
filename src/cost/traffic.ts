/**
 * Bytes a plan moves: each kernel reads its input bindings once and writes its output
 * once (compulsory traffic; caches can only do better, re-reads only worse).
 */
import { bindSizes, evalSize } from '../runtime/sizes.ts';
import { STORAGE } from '../runtime/dtypes.ts';
import type { ExecPlan, StorageDType } from '../runtime/plan.ts';

/** Bytes read and written by a plan, and the largest temporary it allocates. */
export interface Traffic {
  read: number;
  written: number;
  /** bytes of temporary buffers (the s×t scores of an unfused attention, for example) */
  temp: number;
}

/**
 * Bytes of one element: floats cost `floatBytes` (the storage being modelled, f16 at most 2),
 * integers their own size (an int8 cache is 1 byte).
 * @example elementBytes('i8', 4) // 1
 */
export function elementBytes(dtype: string, floatBytes: number): number {
  const s = STORAGE[dtype as StorageDType];
  if (!s) return floatBytes;
  // integers cost their own size; floats the modelled storage, a narrower dtype (f16) at most its own
  return s.compute === 'i32' ? s.bytes : s.bytes < 4 ? Math.min(s.bytes, floatBytes) : floatBytes;
}

/**
 * The bytes a plan moves at the given sizes (all sizes bound, derived ones included).
 * @example planTraffic(lower(mha()), sizes).read
 */
export function planTraffic(plan: ExecPlan, given: Record<string, number>, bytesPerElement = 4): Traffic {
  // the plan's own derived sizes (e.g. a split count) come from its rules
  const sizes = bindSizes(plan, Object.fromEntries(plan.dynamicSizes.map((s) => [s, given[s]!])));
  const bytes = new Map(
    plan.buffers.map((b) => [b.name, b.shape.reduce<number>((p, e) => p * evalSize(e, sizes), 1) * elementBytes(b.dtype, bytesPerElement)]),
  );
  let read = 0;
  let written = 0;
  for (const k of plan.kernels)
    for (const b of k.bindings) {
      if (b.buffer.startsWith('_flash_tiles')) continue; // a debug counter
      if (b.access === 'read') read += bytes.get(b.buffer) ?? 0;
      else written += bytes.get(b.buffer) ?? 0;
    }
  const temp = plan.buffers.filter((b) => b.role === 'temp').reduce((p, b) => p + bytes.get(b.name)!, 0);
  return { read, written, temp };
}
