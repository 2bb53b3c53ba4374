/**
 * The op records (src/ir/ops.ts): TypeScript refuses an incomplete table, and every unary and
 * binary op's WGSL rule computes what its interpreter rule does, on the GPU, in f32 and in i32
 * (integer corners included: division by zero and INT_MIN / -1).
 */
import ts from 'typescript';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compile } from '../../src/compile.ts';
import { graph, input, interpret, where } from '../../src/index.ts';
import { BINARY, REDUCE, UNARY, type BinaryFn, type UnaryFn } from '../../src/ir/index.ts';
import { closeRuntime, getRuntime } from '../../src/runtime/index.ts';

beforeAll(async () => {
  await getRuntime();
});
afterAll(closeRuntime);

const ROOT = resolve(import.meta.dirname, '../..');

test('a table without a record for every op does not type-check', () => {
  const file = resolve(ROOT, 'test/ir/__ops_snippet.ts');
  const code = [
    "import { UNARY, type UnaryFn, type UnaryOp } from '../../src/ir/index.ts';",
    'export const partial: Record<UnaryFn, UnaryOp> = { neg: UNARY.neg, exp: UNARY.exp };',
    'export const noRule: UnaryOp = { interp: (x) => x, print: {}, flops: 1, types: "float" };',
  ].join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    allowImportingTsExtensions: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) => (name === file ? ts.createSourceFile(name, code, lang) : read(name, lang, ...rest));
  const exists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || exists(name);
  const program = ts.createProgram([file], options, host);
  const messages = program.getSemanticDiagnostics(program.getSourceFile(file)).map((d) => ts.flattenDiagnosticMessageText(d.messageText, ' '));
  expect(messages.some((m) => /missing the following properties from type 'Record<UnaryFn, UnaryOp>'/.test(m))).toBe(true);
  expect(messages.some((m) => /Property 'wgsl' is missing/.test(m))).toBe(true);
});

test('the records cover the ops and state a rule, a printer and a cost each', () => {
  expect(Object.keys(UNARY).sort()).toEqual(['abs', 'cos', 'elu', 'exp', 'floor', 'log', 'neg', 'not', 'round', 'rsqrt', 'sigmoid', 'sin', 'sqrt', 'tanh']);
  expect(Object.keys(BINARY)).toHaveLength(16);
  expect(Object.keys(REDUCE).sort()).toEqual(['logsumexp', 'max', 'sum']);
  for (const r of [...Object.values(UNARY), ...Object.values(BINARY)]) expect(typeof r.wgsl === 'function' && r.flops >= 1).toBe(true);
});

/** Runs a one-op graph on the GPU and in the interpreter: f32 results within `rel` of float64, i32 results (rel 0) exactly. */
async function agree(g: ReturnType<typeof graph>, inputs: Record<string, Float32Array | Int32Array>, n: number, rel: number) {
  const want = interpret(g, inputs, { i: n }).y!.data;
  const got = (await compile(g).run(inputs, { i: n })).outputs.y!.data;
  for (let k = 0; k < n; k++) {
    const [a, b] = [want[k]!, got[k]!];
    if (Number.isNaN(a)) expect(Number.isNaN(b), `element ${k}`).toBe(true);
    else expect(Math.abs(a - b), `element ${k}: interpreter ${a}, GPU ${b}`).toBeLessThanOrEqual(rel * Math.max(1, Math.abs(a)));
  }
}

const F = Float32Array.from([0.25, 0.5, 1, 1.5, 2.5, 3, 0.75, 4, -0.5, -2.5, 0.125, 7]);
const G = Float32Array.from([2, 0.5, 3, -1.5, 1.25, 0.5, 3, -2, 0.5, 2, 8, -7]);
const I = Int32Array.from([7, -7, 0, 5, -2147483648, 3, -1, 12, 2147483647, -9, 1, 0]);
const J = Int32Array.from([2, 2, 3, 0, -1, -3, 5, 5, 1, 4, -1, 0]);

describe('every unary op on the GPU equals its interpreter rule', () => {
  for (const fn of Object.keys(UNARY) as UnaryFn[]) {
    if (fn === 'not') continue; // a bool op: through where() in the binary tests
    test(fn, async () => {
      const x = input('x', 'i');
      // log, sqrt and rsqrt on positive values; the rest on signed ones
      const data = ['log', 'sqrt', 'rsqrt'].includes(fn) ? F.map(Math.abs) : F;
      await agree(graph(`u_${fn}`, { y: (x as any)[fn]() }), { x: data }, data.length, 4e-6);
      if (UNARY[fn].types === 'keeps-int') await agree(graph(`ui_${fn}`, { y: (input('x', 'i', 'i32') as any)[fn]() }), { x: I }, I.length, 0);
    });
  }
});

describe('every binary op on the GPU equals its interpreter rule', () => {
  for (const fn of Object.keys(BINARY) as BinaryFn[]) {
    test(fn, async () => {
      const types = BINARY[fn].types;
      const apply = (a: any, b: any) => {
        if (types === 'logic') return where((a.gt(0) as any)[fn](b.gt(0)), 1, 0);
        if (types === 'compare') return where(a[fn](b), 1, 0);
        return a[fn === 'min' ? 'minimum' : fn === 'max' ? 'maximum' : fn](b);
      };
      if (types !== 'int') await agree(graph(`b_${fn}`, { y: apply(input('a', 'i'), input('b', 'i')) }), { a: F, b: G }, F.length, 4e-6);
      if (types !== 'float') await agree(graph(`bi_${fn}`, { y: apply(input('a', 'i', 'i32'), input('b', 'i', 'i32')) }), { a: I, b: J }, I.length, 0);
    });
  }
});
