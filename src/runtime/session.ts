/**
 * Sessions: several runs recorded into one command encoder and sent to the GPU in one
 * submission, such as a decode step (append to the KV cache, advance the lengths,
 * attend). Passes run in recording order; the data they share stays on the device.
 */
import { EinattnError, fail } from '../errors.ts';
import { assertAlive, retireLostRuntime, type Runtime } from './device.ts';
import { lostOrNull, mapAfterSubmit, workDone } from './readback.ts';

/** Options of {@link Session}. */
export interface SessionOptions {
  /** measure each pass's GPU time (timestamp queries, or wall clock per pass without them) */
  timing?: boolean;
  /** names the command buffer and the messages */
  label?: string;
}

/** What {@link Session.submit} returns. */
export interface SessionResult {
  /** the passes recorded, in order (kernel names) */
  passes: string[];
  /** per pass, in order; only with `timing` */
  kernelMs?: number[];
  /** the bytes of each {@link Session.readBack}, in order */
  reads: ArrayBuffer[];
  /** wall-clock ms from the submission until the results were on the host (0 when nothing was awaited) */
  waitMs: number;
}

/** Options of {@link Session.submit}. */
export interface SubmitOptions {
  /** wait until the GPU has finished even when nothing is read back */
  wait?: boolean;
}

// Timestamp pairs per query set; a session that records more passes opens another.
const PASSES_PER_QUERY_SET = 64;

/**
 * One command-buffer submission built from several runs. Give it to `runPlan`,
 * `compile(g).run` or a KV cache's `append` as `{ session }`, then `submit()`.
 * @example const s = new Session(rt); cache.append(s, rows); await step.run(inputs, dims, { session: s }); await s.submit()
 */
export class Session {
  readonly runtime: Runtime;
  readonly label: string;
  /** whether passes get timestamps (or wall-clock timing without timestamp-query) */
  readonly timing: boolean;
  private readonly timestamps: boolean;
  private encoder: GPUCommandEncoder;
  private readonly commands: GPUCommandBuffer[] = [];
  private readonly pooled: GPUBuffer[] = [];
  private readonly labels: string[] = [];
  private readonly querySets: GPUQuerySet[] = [];
  private readonly reads: { buffer: GPUBuffer; bytes: number }[] = [];
  private readonly errors: Promise<GPUError | null>[] = [];
  private submitted = false;

  constructor(runtime: Runtime, opts: SessionOptions = {}) {
    assertAlive(runtime);
    this.runtime = runtime;
    this.label = opts.label ?? 'session';
    this.timing = opts.timing === true;
    this.timestamps = this.timing && runtime.features.has('timestamp-query');
    this.encoder = runtime.device.createCommandEncoder({ label: this.label });
  }

  /** Throws USAGE when the session was already submitted, DEVICE_LOST when its device is gone. */
  assertOpen(what: string): void {
    if (this.submitted) fail('USAGE', `${what}: session '${this.label}' was already submitted; start a new Session for the next step`);
    assertAlive(this.runtime);
  }

  /**
   * Runs `fn` (encoding work) inside validation and out-of-memory error scopes; errors surface at submit.
   * @example session.record(() => session.clear(buf))
   */
  record<T>(fn: () => T): T {
    const { device } = this.runtime;
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    try {
      return fn();
    } finally {
      const validation = device.popErrorScope();
      const oom = device.popErrorScope();
      this.errors.push(Promise.all([validation, oom]).then(([v, o]) => v ?? o));
    }
  }

  /**
   * A buffer from the runtime's pool (stale contents), returned to it once the session is submitted.
   * @example const tmp = session.scratch(1024, GPUBufferUsage.STORAGE, 'tmp')
   */
  scratch(size: number, usage: number, label: string): GPUBuffer {
    const b = this.runtime.pool.acquire(size, usage, label);
    this.pooled.push(b);
    return b;
  }

  /** Zeroes a buffer at this point of the session. */
  clear(buffer: GPUBuffer): void {
    this.encoder.clearBuffer(buffer);
  }

  /**
   * Records one compute pass: `pipeline` with `bindGroup` over `grid` workgroups (none when `count` is 0).
   * @example session.pass('append_k', pipeline, group, [4, 1, 1], 4)
   */
  pass(label: string, pipeline: GPUComputePipeline, bindGroup: GPUBindGroup, grid: [number, number, number], count: number): void {
    const i = this.labels.length;
    this.labels.push(label);
    let timestampWrites: GPUComputePassTimestampWrites | undefined;
    if (this.timestamps) {
      const set = Math.floor(i / PASSES_PER_QUERY_SET);
      if (!this.querySets[set])
        this.querySets[set] = this.runtime.device.createQuerySet({ type: 'timestamp', count: 2 * PASSES_PER_QUERY_SET, label: `${this.label}.timestamps` });
      const at = 2 * (i % PASSES_PER_QUERY_SET);
      timestampWrites = { querySet: this.querySets[set]!, beginningOfPassWriteIndex: at, endOfPassWriteIndex: at + 1 };
    }
    const pass = this.encoder.beginComputePass({ label, ...(timestampWrites ? { timestampWrites } : {}) });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    if (count > 0) pass.dispatchWorkgroups(...grid);
    pass.end();
    // without timestamps each pass is its own command buffer, timed by the wall clock
    if (this.timing && !this.timestamps) {
      this.commands.push(this.encoder.finish());
      this.encoder = this.runtime.device.createCommandEncoder({ label: this.label });
    }
  }

  /**
   * Asks for the first `bytes` of `buffer` as they are at the end of the session; they come back in `submit().reads`.
   * @example const i = session.readBack(out, 64)
   */
  readBack(buffer: GPUBuffer, bytes: number): number {
    this.reads.push({ buffer, bytes });
    return this.reads.length - 1;
  }

  /** The number of passes recorded so far. */
  get passCount(): number {
    return this.labels.length;
  }

  /**
   * Sends everything recorded as one submission; waits only when there is something to read back (outputs, timings) or `wait`.
   * @example const { kernelMs } = await session.submit()
   */
  async submit(opts: SubmitOptions = {}): Promise<SessionResult> {
    this.assertOpen('submit()');
    this.submitted = true;
    const rt = this.runtime;
    try {
      return await this.send(opts);
    } catch (e) {
      if (!(e instanceof EinattnError) && (await lostOrNull(rt))) throw retireLostRuntime(rt);
      throw e;
    } finally {
      for (const q of this.querySets) q.destroy();
      // Buffers of a lost device are dead; the pool was already emptied.
      if (!rt.health.lost) for (const b of this.pooled) rt.pool.release(b);
    }
  }

  private async send(opts: SubmitOptions): Promise<SessionResult> {
    const rt = this.runtime;
    const { device } = rt;
    const offsets: number[] = [];
    let bytes = 0;
    for (const r of this.reads) {
      offsets.push(bytes);
      bytes += Math.ceil(r.bytes / 4) * 4;
    }
    const tsOffset = Math.ceil(bytes / 8) * 8;
    const tsBytes = this.timestamps ? 16 * this.labels.length : 0;
    const stagingBytes = tsOffset + tsBytes;
    const staging = stagingBytes > 0 ? this.scratch(stagingBytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, `${this.label}.readback`) : undefined;
    this.record(() => {
      this.reads.forEach((r, i) => this.encoder.copyBufferToBuffer(r.buffer, 0, staging!, offsets[i]!, Math.ceil(r.bytes / 4) * 4));
      this.querySets.forEach((set, s) => {
        const n = Math.min(PASSES_PER_QUERY_SET, this.labels.length - s * PASSES_PER_QUERY_SET);
        const resolve = this.scratch(16 * n, GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, `${this.label}.timestamps`);
        this.encoder.resolveQuerySet(set, 0, 2 * n, resolve, 0);
        this.encoder.copyBufferToBuffer(resolve, 0, staging!, tsOffset + 16 * s * PASSES_PER_QUERY_SET, 16 * n);
      });
      this.commands.push(this.encoder.finish());
    });
    let kernelMs: number[] | undefined;
    if (this.timing && !this.timestamps) kernelMs = await this.submitTimed();
    else this.record(() => device.queue.submit(this.commands));
    await this.throwErrors();
    const t0 = performance.now();
    if (!staging) {
      if (opts.wait) await workDone(rt);
      return { passes: [...this.labels], ...(kernelMs ? { kernelMs } : {}), reads: [], waitMs: opts.wait ? performance.now() - t0 : 0 };
    }
    try {
      await mapAfterSubmit(rt, staging, `session '${this.label}'`);
    } catch (e) {
      // a buffer whose map failed is in no state to be handed out again
      this.pooled.splice(this.pooled.indexOf(staging), 1);
      if (!rt.health.lost) staging.destroy();
      throw e;
    }
    const mapped = staging.getMappedRange();
    const reads = this.reads.map((r, i) => mapped.slice(offsets[i]!, offsets[i]! + r.bytes));
    if (this.timestamps) {
      const ts = new BigInt64Array(mapped, tsOffset, 2 * this.labels.length);
      kernelMs = this.labels.map((_, i) => Math.max(0, Number(ts[2 * i + 1]! - ts[2 * i]!) / 1e6));
    }
    staging.unmap();
    return { passes: [...this.labels], ...(kernelMs ? { kernelMs } : {}), reads, waitMs: performance.now() - t0 };
  }

  /** Without timestamp queries: one submission per pass, each timed by the wall clock. */
  private async submitTimed(): Promise<number[]> {
    const { device } = this.runtime;
    const ms: number[] = [];
    for (let i = 0; i < this.commands.length; i++) {
      const t = performance.now();
      this.record(() => device.queue.submit([this.commands[i]!]));
      await workDone(this.runtime);
      if (i < this.labels.length) ms.push(performance.now() - t);
    }
    return ms;
  }

  private async throwErrors(): Promise<void> {
    const rt = this.runtime;
    for (const p of this.errors) {
      const err = await p;
      if (!err) continue;
      if (rt.health.lost) throw retireLostRuntime(rt);
      const kind = err.constructor?.name === 'GPUOutOfMemoryError' ? 'out of memory' : 'validation error';
      throw new EinattnError('GPU', `${this.label} (passes ${this.labels.join(', ') || 'none'}): GPU ${kind} while dispatching: ${err.message.trim()}`);
    }
  }
}
