/**
 * The decode loop (`einattn decode`) for every variant it was built for, on the adapter:
 * the device cache, one submission per step, the host-array path, and the last step
 * against the interpreter; the CLI's JSON and its one-line errors.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { decodeDims, decodeLayout, runDecode } from '../../src/decode/index.ts';
import { EinattnError } from '../../src/index.ts';
import { closeRuntime, getRuntime, type Runtime } from '../../src/runtime/index.ts';
import { cli, expectOk, expectOneLineError } from '../cli/helpers.ts';

let rt: Runtime;
beforeAll(async () => {
  rt = await getRuntime(); // no adapter → the suite fails here with the reason
});
afterAll(closeRuntime);

const CASES: [string, Record<string, number>][] = [
  ['gqa', { b: 2, h: 8, g: 2, t: 40, d: 16, dv: 16 }],
  ['mqa', { b: 2, h: 4, t: 33, d: 8, dv: 12 }],
  ['mha', { b: 1, h: 3, t: 20, d: 8, dv: 8 }],
  ['mla_decode', { b: 2, h: 4, t: 24, dn: 8, dr: 4, dc: 16, dv: 8 }],
  ['paged', { b: 3, h: 4, g: 2, blk: 4, m: 6, d: 8, dv: 8 }],
  ['gqa_int8', { b: 2, h: 4, g: 2, t: 30, d: 8, dv: 8 }],
];

describe('decode loops on a device KV cache', () => {
  test.each(CASES)('%s: steps match the interpreter, one submission each, ragged batch', async (variant, dims) => {
    const r = await runDecode({ variant, dims, steps: 5, runtime: rt, hostRepeats: 1 });
    expect(r.steps).toBe(5);
    expect(r.max_abs_err).not.toBeNull();
    expect(r.max_abs_err!).toBeLessThan(1e-4);
    // the first half of the steps alone (latency), the rest as a loop with one step in flight
    expect(r.step_latency_ms.runs).toBe(3);
    expect(r.step_wall_ms.runs).toBe(2);
    expect(r.step_kernel_ms.median).toBeGreaterThan(0);
    expect(r.host_step_wall_ms!.runs).toBe(1);
    // appends of every cached tensor, the length update, then the attention's kernels
    expect(r.passes.filter((p) => p.startsWith('kv_append')).length).toBe(2);
    expect(r.passes).toContain('kv_advance');
    const capacity = variant === 'paged' ? dims.m! * dims.blk! : dims.t!;
    expect(r.prefill[0]).toBe(capacity - 5);
    if (dims.b! > 1) expect(r.prefill[dims.b! - 1]).toBeLessThan(r.prefill[0]!);
  });

  test('layouts are read off the graphs', () => {
    expect(decodeLayout('gqa').cached.map((c) => c.name)).toEqual(['k', 'v']);
    expect(decodeLayout('gqa_int8').int8).toBe(true);
    expect(decodeLayout('gqa_int8').cached.map((c) => c.name)).toEqual(['k', 'v']);
    expect(decodeLayout('mla_decode').cached.map((c) => c.name)).toEqual(['c_kv', 'k_rope']);
    expect(
      decodeLayout('mla_decode')
        .constants.map((c) => c.name)
        .sort(),
    ).toEqual(['w_uk', 'w_uv']);
    expect(decodeLayout('paged').kind).toBe('paged');
    expect(decodeDims(decodeLayout('paged'), { b: 2, h: 4, g: 2, blk: 4, m: 3, d: 8, dv: 8 })).toEqual({
      dims: { b: 2, h: 4, g: 2, blk: 4, m: 3, d: 8, dv: 8, s: 1, n: 6 },
      capacity: 12,
    });
  });

  test('bad requests are USAGE errors naming the problem', async () => {
    const usage = async (p: Promise<unknown>, re: RegExp) => {
      const e = await p.then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(EinattnError);
      expect((e as EinattnError).code).toBe('USAGE');
      expect((e as EinattnError).message).toMatch(re);
    };
    await usage(runDecode({ variant: 'gqa', dims: CASES[0]![1], steps: 41, runtime: rt }), /capacity t = 40 is smaller than --steps 41/);
    await usage(runDecode({ variant: 'nope', dims: {}, steps: 1, runtime: rt }), /no variant 'nope'/);
    await usage(runDecode({ variant: 'linformer', dims: {}, steps: 1, runtime: rt }), /has no KV cache|no option 'cache'|cache/);
    await usage(runDecode({ variant: 'gqa', dims: { b: 1, h: 8, g: 3, t: 8, d: 4, dv: 4 }, steps: 1, runtime: rt }), /--dims b=1,h=8,g=3/);
    await usage(runDecode({ variant: 'gqa', dims: { ...CASES[0]![1], zz: 3 }, steps: 1, runtime: rt }), /no size zz/);
    await usage(runDecode({ variant: 'paged', dims: { b: 1, h: 4, g: 2, blk: 4, d: 8, dv: 8 }, steps: 1, runtime: rt }), /paged needs --dims m=/);
    await usage(runDecode({ variant: 'gqa', dims: { ...CASES[0]![1], s: 2 }, steps: 1, runtime: rt }), /s is 1/);
  });
});

describe('einattn decode', () => {
  test('--json prints one object with the step times, the host path and the error', async () => {
    const r = await cli(['decode', 'gqa', '--dims', 'b=1,h=4,g=2,t=24,d=8,dv=8', '--steps', '4', '--json']);
    expectOk(r);
    const o = JSON.parse(r.stdout);
    for (const k of ['variant', 'dims', 'steps', 'step_wall_ms', 'step_kernel_ms', 'host_step_wall_ms', 'max_abs_err']) expect(o).toHaveProperty(k);
    expect(o.variant).toBe('gqa');
    expect(o.steps).toBe(4);
    expect(o.step_wall_ms.median).toBeGreaterThan(0);
    expect(o.max_abs_err).toBeLessThan(1e-4);
  });

  test('a capacity smaller than the steps, or bad sizes, is a one-line usage error', async () => {
    expectOneLineError(await cli(['decode', 'gqa', '--dims', 'b=1,h=4,g=2,t=3,d=8,dv=8', '--steps', '4']), 2, /capacity t = 3 is smaller than --steps 4/);
    expectOneLineError(await cli(['decode', 'gqa', '--dims', 'b=1,h=4,g=2,t=0,d=8,dv=8']), 2, /t=0/);
    expectOneLineError(await cli(['decode', 'gqa', '--steps', '0']), 2, /--steps must be an integer ≥ 1/);
    // checked before the GPU is opened: nothing but the error is printed
    const r = await cli(['decode', 'paged', '--dims', 'b=1,h=4,g=2,blk=4,d=8,dv=8']);
    expectOneLineError(r, 2, /paged needs --dims m=/);
    expect(r.stdout).toBe('');
  });
});

test('examples/decode-loop.ts generates tokens on the GPU and every step matches the interpreter', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'examples/decode-loop.ts', '6'], { timeout: 120_000 });
  expect(stdout).toMatch(/12 steps \(6 prompt \+ 6 generated\) in [\d.]+ s: [\d.]+ tokens\/s/);
  const err = Number(/max \|difference\| = (\S+)/.exec(stdout)![1]);
  expect(err).toBeLessThan(1e-4);
});
