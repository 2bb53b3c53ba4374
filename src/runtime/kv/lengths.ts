/**
 * A cache's sequence lengths: i32 [b] on the device, where the append step advances them, and
 * the host's mirror of them, which refuses an append past the capacity before any GPU work.
 * The contiguous and the paged cache both keep theirs here.
 */
import { fail } from '../../errors.ts';
import type { Runtime } from '../device.ts';
import { runPlan, type RunOptions, type RunValue } from '../execute.ts';
import type { Session } from '../session.ts';
import { upload, zeros, type DeviceTensor } from '../tensor.ts';
import { advancePlan } from './kernels.ts';

/**
 * Checks the rows each sequence appends: 0..s each, and within the capacity.
 * @example checkCounts('append', new Int32Array(2), [1, 0], 1, 4) // Int32Array [1, 0]
 */
export function checkCounts(what: string, lengths: Int32Array, counts: ArrayLike<number>, s: number, capacity: number): Int32Array {
  if (counts.length !== lengths.length) fail('BAD_INPUT', `${what}: counts has ${counts.length} entries, the batch has ${lengths.length} sequences`);
  const out = new Int32Array(lengths.length);
  for (let b = 0; b < lengths.length; b++) {
    const c = counts[b]!;
    if (!Number.isInteger(c) || c < 0 || c > s) fail('BAD_INPUT', `${what}: counts[${b}] = ${c}; each sequence appends 0..${s} of the ${s} new rows`);
    if (lengths[b]! + c > capacity)
      fail('BAD_SIZE', `${what}: sequence ${b} holds ${lengths[b]} tokens; appending ${c} more would exceed its capacity of ${capacity} (t)`);
    out[b] = c;
  }
  return out;
}

/** The lengths of one cache's sequences, on the device and mirrored on the host. */
export class SequenceLengths {
  /** kv_len, i32 [b], as the attention reads it */
  readonly tensor: DeviceTensor;
  /** the host's mirror (advanced with the device's, never read back) */
  readonly host: Int32Array;
  // counts all equal to s, uploaded once per s, so a step of uniform appends uploads nothing
  private readonly uniform = new Map<number, DeviceTensor>();
  private readonly advance = advancePlan('b');

  constructor(
    private readonly runtime: Runtime,
    batch: number,
    readonly capacity: number,
  ) {
    this.tensor = zeros(runtime, 'i32', ['b'], { b: batch }, 'kv_len');
    this.host = new Int32Array(batch);
  }

  /** The checked counts of an append of `s` rows (all `s` unless given), and the value its kernels read them from. */
  counts(what: string, given: ArrayLike<number> | undefined, s: number): { counts: Int32Array; value: RunValue } {
    const counts = checkCounts(what, this.host, given ?? new Int32Array(this.host.length).fill(s), s, this.capacity);
    if (given !== undefined) return { counts, value: counts };
    let value = this.uniform.get(s);
    if (!value) this.uniform.set(s, (value = upload(this.runtime, counts, ['b'], { b: this.host.length }, 'counts')));
    return { counts, value };
  }

  /** How the append kernels run: into `session`, or submitted at once. */
  runOptions(session: Session | undefined): RunOptions {
    return { runtime: this.runtime, ...(session ? { session } : { outputs: 'device' as const }) };
  }

  /** Advances the lengths on the device (after the appends recorded before it), and the mirror. */
  async advanceBy(counts: Int32Array, value: RunValue, run: RunOptions): Promise<void> {
    await runPlan(this.advance, { kv_len: this.tensor, counts: value }, { b: this.host.length }, run);
    for (let b = 0; b < counts.length; b++) this.host[b]! += counts[b]!;
  }

  /** Sets every length (checked against the capacity) on the device and the host. */
  set(what: string, next: ArrayLike<number>): void {
    const checked = checkCounts(what, new Int32Array(this.host.length), next, this.capacity, this.capacity);
    this.tensor.write(checked);
    this.host.set(checked);
  }

  destroy(): void {
    this.tensor.destroy();
    for (const t of this.uniform.values()) t.destroy();
  }
}
