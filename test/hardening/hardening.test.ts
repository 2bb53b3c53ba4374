/** Hostile names, concurrency and a soak: the generator stays safe and never silently wrong. */
import fc from 'fast-check';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Project } from 'ts-morph';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { renderAll } from '../../codegen/index.ts';
import { compile } from '../../src/compile.ts';
import { EinattnError, einsum, graph, input, interpret, type Graph } from '../../src/index.ts';
import { isSafeName } from '../../src/ir/index.ts';
import { closeRuntime, getRuntime, runtimeStats } from '../../src/runtime/index.ts';
import { mha } from '../../src/variants/index.ts';

beforeAll(async () => {
  await getRuntime(); // no adapter → the suite fails here with the reason
});
afterAll(closeRuntime);

const TRICKY = [
  'fn',
  'let',
  'var',
  'struct',
  'return',
  'array',
  'f32',
  'exp',
  'max',
  'select',
  'gid',
  'rest',
  'sz',
  'wg',
  'lid',
  'acc00',
  'tile_a',
  'Sizes',
  '_x',
  '__x',
  'x__y',
  'a"b',
  "a'b",
  'a*/b',
  'a/*b',
  'a\nb',
  'a b',
  'a-b',
  'é',
  'Δt',
  '𝑥',
  '1a',
  '',
  'a'.repeat(65),
  'a'.repeat(64),
  'constructor',
  '__proto__',
  'toString',
  'mha_0_einsum',
  'o',
  'q',
  'index',
  'plan',
  'run',
  'Inputs',
];
const nameArb = fc.oneof(fc.constantFrom(...TRICKY), fc.string({ maxLength: 12 }), fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,10}$/));

describe('hostile names', () => {
  test('every name is rejected with BAD_NAME or runs correctly on the GPU and in generated TypeScript', async () => {
    const project = new Project({ useInMemoryFileSystem: true, compilerOptions: { strict: true, noEmit: true } });
    await fc.assert(
      fc.asyncProperty(nameArb, nameArb, nameArb, nameArb, async (tensor, axis, out, gname) => {
        let g: Graph;
        if (gname === 'index') {
          // the one name the generator reserves, for its index module
          const named = graph('index', { o: input('x', 'i').exp() });
          expect(() => renderAll([{ graph: named, source: 'test' }])).toThrow(/reserved/);
          return;
        }
        try {
          const x = input(tensor, `${axis} k`);
          const y = input(tensor === 'w' ? 'w2' : 'w', 'k j');
          g = graph(gname, { [out]: einsum(`${axis} k, k j -> ${axis} j`, x, y).exp() });
        } catch (e) {
          expect(e).toBeInstanceOf(EinattnError);
          expect(['BAD_NAME', 'USAGE', 'REPEATED_AXIS', 'SPEC_SYNTAX']).toContain((e as EinattnError).code);
          return;
        }
        // accepted: all four names are safe identifiers, and everything downstream works
        // (an axis string with spaces is several axes, and an empty one none: the spec language splits on whitespace)
        for (const n of [tensor, out, gname, ...g.sizes]) expect(isSafeName(n), n).toBe(true);
        const dims = Object.fromEntries(g.sizes.map((a) => [a, a === 'k' || a === 'j' ? 2 : 3]));
        const ins = Object.fromEntries(g.inputs.map((i) => [i.name, Float32Array.from({ length: i.axes.reduce((p, a) => p * dims[a]!, 1) }, (_, v) => v / 7)]));
        const want = interpret(g, ins, dims)[out]!;
        const got = (await compile(g).run(ins, dims)).outputs[out]!;
        for (let i = 0; i < want.data.length; i++) expect(got.data[i]).toBeCloseTo(want.data[i]!, 5);
        const file = project.createSourceFile(
          'gen.ts',
          renderAll([{ graph: g, source: 'test' }])
            .files.get(`${gname}.ts`)!
            .replace(/from "einattn\/runtime"/, 'from "./rt"'),
          { overwrite: true },
        );
        project.createSourceFile(
          'rt.ts',
          'export declare function runPlan(...a: any[]): Promise<any>; export type ExecPlan = any; export type HostArray = any; export type Runtime = any; export type RunOptions = any; export type RunOutput = any; export type DeviceTensor = any; export type Session = any;',
          { overwrite: true },
        );
        const syntax = file.getPreEmitDiagnostics().filter((d) => d.getCategory() === 1);
        expect(syntax.map((d) => d.getMessageText().toString())).toEqual([]);
      }),
      // an axis named like an Object.prototype member once reached WGSL as that member's source
      // text; an output named `toString` once found Object.prototype's in the runtime's lookups
      {
        numRuns: 60,
        examples: [
          ['A', 'toString', 'a'.repeat(64), 'A'],
          ['x', 'constructor', 'o', 'g'],
          ['A', '', 'toString', 'A'],
          ['toString', 'i', 'constructor', 'g'],
        ],
      },
    );
  });
});

describe('concurrency', () => {
  test('many runs in flight on one device equal the same runs one by one', async () => {
    const graphs = [mha(), mha({ causal: true }), graph('mm', { c: einsum('i k, k j -> i j', input('a', 'i k'), input('b', 'k j')).tanh() })];
    const cases = Array.from({ length: 24 }, (_, n) => {
      const g = graphs[n % graphs.length]!;
      const dims: Record<string, number> = g.name === 'mm' ? { i: 5 + n, k: 7, j: 3 } : { b: 1, h: 2, s: 3 + (n % 5), t: 4 + (n % 7), d: 8, dv: 4 };
      const ins = Object.fromEntries(
        g.inputs.map((i, k) => [i.name, Float32Array.from({ length: i.axes.reduce((p, a) => p * dims[a]!, 1) }, (_, v) => Math.sin(v + n + k))]),
      );
      return { c: compile(g), ins, dims };
    });
    const sequential: Record<string, { data: ArrayLike<number> }>[] = [];
    for (const x of cases) sequential.push((await x.c.run(x.ins, x.dims)).outputs);
    const parallel = await Promise.all(cases.map((x) => x.c.run(x.ins, x.dims).then((r) => r.outputs)));
    parallel.forEach((p, n) => {
      for (const k of Object.keys(p)) expect(Array.from(p[k]!.data), `case ${n} output ${k}`).toEqual(Array.from(sequential[n]![k]!.data));
    });
  });
});

describe('soak', () => {
  test('1,000 consecutive runs of mixed kernels: pooled GPU memory and heap stay bounded', async () => {
    const rt = await getRuntime();
    const kinds = [compile(mha({ causal: true })), compile(graph('mm', { c: einsum('i k, k j -> i j', input('a', 'i k'), input('b', 'k j')) }))];
    const dimsOf = (n: number): Record<string, number> => (n % 2 ? { i: 9, k: 4 + (n % 3), j: 5 } : { b: 1, h: 2, s: 4, t: 5 + (n % 4), d: 8, dv: 8 });
    const inputs = (c: (typeof kinds)[number], d: Record<string, number>) =>
      Object.fromEntries(c.graph.inputs.map((i) => [i.name, new Float32Array(i.axes.reduce((p, a) => p * d[a]!, 1)).fill(0.5)]));
    for (let n = 0; n < 100; n++) await kinds[n % 2]!.run(inputs(kinds[n % 2]!, dimsOf(n)), dimsOf(n));
    const gc = collector();
    gc();
    const before = { ...runtimeStats(rt), heap: process.memoryUsage().heapUsed };
    for (let n = 0; n < 1000; n++) await kinds[n % 2]!.run(inputs(kinds[n % 2]!, dimsOf(n)), dimsOf(n));
    gc();
    const after = { ...runtimeStats(rt), heap: process.memoryUsage().heapUsed };
    // the warm-up saw every shape: no new GPU buffers, and after a collection the JS heap
    // has grown by < 16 MiB (16 KiB a run would be a leak of every run's arrays)
    expect(after.buffersCreated - before.buffersCreated).toBe(0);
    expect(after.pooledBytes).toBeLessThanOrEqual(before.pooledBytes);
    expect(after.heap - before.heap).toBeLessThan(16 * 2 ** 20);
  });
});

/** A full garbage collection, so heap readings compare live data rather than garbage. */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}
