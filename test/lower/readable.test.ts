/**
 * The generated WGSL reads like code a person wrote (issue 20): no line over 160 characters,
 * none of the arithmetic noise the cleanups remove (`% 1u`, `* 1u`, `+ 0u`, `0u * …`), no `let`
 * that only renames another `let`, and a header that states the expression and the schedule
 * once. Checked over every built-in variant (each boolean option on its own) under several
 * schedules, specialized at their bench sizes, and over random programs of the test grammar.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { Graph } from '../../src/index.ts';
import { lower, specializeFor, type LowerOptions } from '../../src/lower/index.ts';
import type { ExecPlan } from '../../src/runtime/plan.ts';
import { variants } from '../../src/variants/index.ts';
import { buildProgram, recipeArb } from '../gpu/programs.ts';

const MAX_LINE = 160;

const SCHEDULES: [string, LowerOptions][] = [
  ['default', {}],
  ['unfused', { flash: false }],
  ['workgroup memory', { flash: false, shared: true, tile: [2, 3] }],
  ['f16 compute', { compute: 'f16' }],
  ['lanes', { flashSchedule: { rows: 2, kvTile: 4, workgroup: 4, kvLanes: 2, split: 1 } }],
  ['subgroups', { flashSchedule: { rows: 4, kvTile: 8, workgroup: 8, kvLanes: 4, subgroups: true, split: 1 } }],
  ['split-KV', { flashSchedule: { rows: 2, kvTile: 5, workgroup: 3, split: 3 } }],
];

/** What is wrong with the WGSL of `plan`, one line per problem (empty: readable). */
function problems(plan: ExecPlan): string[] {
  const out: string[] = [];
  for (const k of plan.kernels) {
    const lines = k.wgsl.split('\n');
    lines.forEach((l, i) => {
      if (l.length > MAX_LINE) out.push(`${k.name}:${i + 1}: ${l.length} characters`);
    });
    // the code without its comments, as [line number, text]
    const code = lines.map((l, i) => [i + 1, l.replace(/\/\/.*$/, '')] as const).filter(([, l]) => l.trim() !== '');
    for (const [what, re] of [
      ['% 1u', /% 1u\b/],
      ['/ 1u', /\/ 1u\b/],
      ['* 1u', /\* 1u\b/],
      ['1u *', /(?<![\w.])1u \*/],
      ['+ 0u', /\+ 0u\b/],
      ['0u *', /(?<![\w.])0u \*/],
      ['* 0u', /\* 0u\b/],
    ] as const)
      for (const [n, l] of code) if (re.test(l)) out.push(`${k.name}:${n}: '${what}' in ${l.trim()}`);
    const lets = new Set(code.flatMap(([, l]) => /^\s*let (\w+) =/.exec(l)?.[1] ?? []));
    for (const [, l] of code) {
      const alias = /^\s*let (\w+) = (\w+);$/.exec(l);
      if (alias && lets.has(alias[2]!)) out.push(`${k.name}: '${l.trim()}' only renames a let`);
    }
    const header = lines.filter((l) => l.startsWith('// '));
    if (header.filter((l) => l.startsWith('// schedule: ')).length > 1) out.push(`${k.name}: the schedule is stated twice`);
    const stated = header.filter((l) => /^\/\/ [\w]+(\[[^\]]*\])? = /.test(l)).map((l) => l.split(' = ')[0]!.replace(/\[.*$/, ''));
    if (new Set(stated).size !== stated.length) out.push(`${k.name}: the expression of an output is stated twice (${stated.join(', ')})`);
  }
  return out;
}

function expectReadable(g: Graph, opts: LowerOptions, what: string): void {
  expect(problems(lower(g, opts)), what).toEqual([]);
}

describe('every built-in variant', () => {
  for (const v of variants) {
    const optionSets: Record<string, boolean>[] = [
      {},
      ...Object.entries(v.options)
        .filter(([, o]) => o.type === 'boolean')
        .map(([k, o]) => ({ [k]: !o.default })),
    ];
    test(`${v.name}: ${optionSets.length} option sets × ${SCHEDULES.length + 2} schedules`, () => {
      for (const opts of optionSets) {
        const g = v.build(opts);
        for (const [name, lo] of SCHEDULES) expectReadable(g, lo, `${v.name} ${JSON.stringify(opts)} ${name}`);
        for (const device of [{}, { subgroupSize: 8 }]) {
          const spec = specializeFor(g, {}, v.dims.bench, true, device);
          expectReadable(g, spec?.opts ?? {}, `${v.name} ${JSON.stringify(opts)} at bench sizes on ${JSON.stringify(device)}`);
        }
      }
    });
  }
});

test('random programs of the test grammar', () => {
  for (const r of fc.sample(recipeArb, { seed: 20, numRuns: 120 })) expectReadable(buildProgram(r), { tile: r.tile, shared: r.shared }, JSON.stringify(r));
});

test('the checks see what they look for', () => {
  const plan = (wgsl: string): ExecPlan => ({
    name: 'x',
    dynamicSizes: [],
    staticSizes: {},
    derivedSizes: [],
    constraints: [],
    buffers: [],
    kernels: [{ name: 'k', wgsl, workgroupSize: [1, 1, 1], workgroups: 1, bindings: [], uniforms: [], workgroupStorageBytes: 0 }],
  });
  expect(problems(plan(`// schedule: a\n// schedule: b\nlet _a = _x % 1u;\nlet _b = _a;\n${'x'.repeat(161)}`))).toEqual([
    'k:5: 161 characters',
    "k:3: '% 1u' in let _a = _x % 1u;",
    "k: 'let _b = _a;' only renames a let",
    'k: the schedule is stated twice',
  ]);
});
