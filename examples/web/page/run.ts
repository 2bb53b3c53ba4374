/**
 * One playground run: a graph (the variant's, or the one a DSL snippet exports) compiled and
 * run on the page's GPU (a first run that compiles the pipelines, then a timed one), checked
 * against the interpreter, and the attention weights (the graph's softmax, run on the GPU too)
 * picked into a heatmap.
 */
import { compile, graph, heatmap, interpret, pick, Tensor, type Graph, type View } from 'einattn';
import type { ExecPlan } from 'einattn/runtime';
import { compare, makeInputs, type Check, type Inputs } from './check.ts';
import type { Settings } from './form.ts';

/** What a run produced, for the page to show. */
export interface RunReport {
  graph: Graph;
  plan: ExecPlan;
  explain: string;
  /** per kernel of the plan: its name, GPU time of the timed run, WGSL */
  kernels: { name: string; ms: number | null; wgsl: string }[];
  kernelMs: number | null;
  /** wall time of the first run (pipeline compilation included) and of the timed run */
  firstMs: number;
  wallMs: number;
  /** per output, against the interpreter (absent when the check is off) */
  checks: Record<string, Check>;
  interpMs: number | null;
  f32Fallback: boolean;
  weights: View | null;
  /** why there is no heatmap */
  weightsNote: string;
}

type CompileOptions = NonNullable<Parameters<typeof compile>[1]>;

/** How to run a graph: its sizes, the precision, and whether to check it against the interpreter. */
export type RunRequest = Pick<Settings, 'dims' | 'storage' | 'compute' | 'check'>;

function compileOptions(s: RunRequest): CompileOptions {
  // SwiftShader and some GPUs lack shader-f16: run f16 requests in f32 there, and say so
  return { ...(s.storage === 'f16' ? { storage: 'f16' as const } : {}), ...(s.compute === 'f16' ? { compute: 'f16' as const } : {}), f16Fallback: 'f32' };
}

/** The graph's first softmax as a graph of its own: the attention weights. */
function weightsGraph(g: Graph): Graph | undefined {
  const sm = g.nodes.find((n) => n.op === 'softmax');
  return sm && graph(`${g.name}_weights`, { p: new Tensor(sm) });
}

/** Attention weights of the first index of every axis but the query and key axes, as a heatmap. */
async function weightsView(g: Graph, inputs: Inputs, dims: Record<string, number>): Promise<{ view: View | null; note: string }> {
  const wg = weightsGraph(g);
  if (!wg) return { view: null, note: 'the graph has no softmax' };
  const sm = wg.outputs[0]!.node as Extract<Graph['nodes'][number], { op: 'softmax' }>;
  const used = Object.fromEntries(wg.inputs.map((i) => [i.name, inputs[i.name]!]));
  // only the sizes the weights use (a plan refuses sizes it does not know, such as dv)
  const names = new Set(wg.nodes.flatMap((n) => [...n.axes, ...(n.op === 'size' ? [n.size] : [])]));
  const sizes = Object.fromEntries(Object.entries(dims).filter(([k]) => names.has(k)));
  const p = (await compile(wg, { f16Fallback: 'f32' }).run(used, sizes)).outputs.p!;
  const key = sm.axis;
  const others = p.axes.filter((a) => a !== key);
  const row = others.includes('s') ? 's' : others[others.length - 1]!;
  const fixed = Object.fromEntries(others.filter((a) => a !== row).map((a) => [a, 0]));
  const title = `attention weights${
    Object.keys(fixed).length
      ? ` at ${Object.keys(fixed)
          .map((a) => `${a}=0`)
          .join(' ')}`
      : ''
  }`;
  const picked = p.axes.length === 2 ? p : pick(p, fixed);
  return { view: heatmap(picked, { title, yLabel: `${row} (query)`, xLabel: `${key} (key)`, min: 0, max: 1 }), note: '' };
}

/**
 * Runs the form's settings; throws what einattn throws (sizes, inputs, limits), with its message.
 * @example const report = await runSettings(readSettings())
 */
export function runSettings(s: Settings): Promise<RunReport> {
  return runGraph(s.variant.build(s.options), s);
}

/**
 * Runs any graph as {@link runSettings} runs a variant's: the snippet editor's path.
 * @example const report = await runGraph(graph('g', { o }), { dims, storage: 'f32', compute: 'f32', check: true })
 */
export async function runGraph(g: Graph, s: RunRequest): Promise<RunReport> {
  const compiled = compile(g, compileOptions(s));
  const inputs = makeInputs(g, s.dims, 1);
  let t = performance.now();
  await compiled.run(inputs, s.dims);
  const firstMs = performance.now() - t;
  t = performance.now();
  const timed = await compiled.run(inputs, s.dims, { timing: true });
  const wallMs = performance.now() - t;
  const plan = compiled.plan;
  const checks: Record<string, Check> = {};
  let interpMs: number | null = null;
  if (s.check) {
    t = performance.now();
    const ref = interpret(g, inputs, s.dims);
    interpMs = performance.now() - t;
    const reduced = s.storage === 'f16' || s.compute === 'f16';
    for (const [name, out] of Object.entries(timed.outputs)) checks[name] = compare(out.data, ref[name]!.data, g, s.dims, reduced);
  }
  let weights: { view: View | null; note: string };
  try {
    weights = await weightsView(g, inputs, s.dims);
  } catch (e) {
    weights = { view: null, note: `no heatmap: ${(e as Error).message}` };
  }
  return {
    graph: g,
    plan,
    explain: compiled.explain(),
    kernels: plan.kernels.map((k, i) => ({ name: k.name, ms: timed.kernelMs?.[i] ?? null, wgsl: k.wgsl })),
    kernelMs: timed.kernelMs ? timed.kernelMs.reduce((a, b) => a + b, 0) : null,
    firstMs,
    wallMs,
    checks,
    interpMs,
    f32Fallback: timed.f32Fallback === true,
    weights: weights.view,
    weightsNote: weights.note,
  };
}
