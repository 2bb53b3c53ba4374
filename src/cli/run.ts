/** `einattn run`: one graph on the GPU and/or the interpreter, with .npy in and out. */
import { compile, type Compiled, type CompiledOutput, type RunInput } from '../compile.ts';
import { EinattnError } from '../errors.ts';
import { interpret, resolveSizes, type Graph } from '../index.ts';
import { explain as explainPlan } from '../lower/index.ts';
import { writeNpy, type Runtime } from '../runtime/index.ts';
import {
  checkDims,
  nonNegativeInt,
  parseAssignments,
  parseDims,
  parseFlags,
  parseOptFlags,
  positiveInt,
  usage,
  flagList as list,
  flagString as str,
} from './args.ts';
import { indexRanges, inputSources, missingInputs, npyInput, randomInput, toNpy, type CliInput } from './data.ts';
import { axesText, dimsText, fmtMs, fmtNum } from './format.ts';
import { adapterFlag, adapterLine, openRuntime, timeRuns, writeWgsl } from './gpu.ts';
import { allowedError, arrayStats, compareArrays, toleranceFor } from './numerics.ts';
import { fileSource, variantSource, type GraphSource } from './source.ts';
import { tunedOptions } from '../tune/index.ts';

const FLAGS = {
  dims: { type: 'string', multiple: true },
  opt: { type: 'string', multiple: true },
  in: { type: 'string', multiple: true },
  random: { type: 'string', multiple: true },
  'random-rest': { type: 'boolean' },
  out: { type: 'string', multiple: true },
  seed: { type: 'string' },
  interp: { type: 'boolean' },
  check: { type: 'boolean' },
  repeat: { type: 'string' },
  explain: { type: 'boolean' },
  'require-fused': { type: 'boolean' },
  wgsl: { type: 'string' },
  'dry-run': { type: 'boolean' },
  adapter: { type: 'string' },
  quiet: { type: 'boolean' },
  file: { type: 'string' },
  export: { type: 'string' },
  'no-tuned': { type: 'boolean' },
  compute: { type: 'string' },
  storage: { type: 'string' },
  'f16-fallback': { type: 'boolean' },
} as const;

/** An output of one side of a run, as plain values. */
interface Result {
  dtype: string;
  axes: string[];
  shape: number[];
  data: ArrayLike<number>;
}

function firstValues(data: ArrayLike<number>, n = 6): string {
  const shown = Array.from({ length: Math.min(n, data.length) }, (_, i) => fmtNum(data[i]!, 4));
  return shown.join(' ') + (data.length > n ? ' …' : '');
}

function outputDtype(graph: Graph, name: string): string {
  return graph.outputs.find((o) => o.name === name)?.node.dtype ?? 'f32';
}

/**
 * Runs `einattn run` with its arguments (after the word `run`) and returns the exit code.
 * @example process.exitCode = await runCommand(['mha', '--check'])
 */
export async function runCommand(argv: string[]): Promise<number> {
  const { values: f, positionals } = parseFlags(argv, FLAGS, 'run');
  const file = str(f.file);
  if (positionals.length > 1) usage(`run takes one variant name, got ${positionals.join(' ')}`);
  if (file !== undefined && positionals.length) usage(`give either a variant name or --file, not both`);
  if (file === undefined && !positionals.length) usage(`run needs a variant name (see einattn list) or --file graph.ts`);
  if (str(f.export) !== undefined && file === undefined) usage(`--export only goes with --file`);
  if (f.interp && f.check) usage(`--check already runs both the interpreter and the GPU; drop --interp`);
  if (f.interp && f.repeat !== undefined) usage(`--repeat times GPU kernels; it cannot be combined with --interp`);
  const seed = f.seed === undefined ? 0 : nonNegativeInt(str(f.seed)!, '--seed');
  const repeat = f.repeat === undefined ? 0 : positiveInt(str(f.repeat)!, '--repeat');
  const adapter = adapterFlag(str(f.adapter));
  const rawOpts = parseOptFlags(list(f.opt));
  const precision = precisionOptions(str(f.compute), str(f.storage), f['f16-fallback'] === true);
  const dimsGiven = list(f.dims).length ? parseDims(list(f.dims)) : undefined;

  const src: GraphSource = file !== undefined ? await fileSource(file, str(f.export), rawOpts) : variantSource(positionals[0]!, rawOpts);
  const { graph } = src;
  if (!dimsGiven && !src.variant)
    usage(`--file needs --dims with the graph's sizes (${graph.sizes.join(' ')}), e.g. --dims ${graph.sizes.map((s) => `${s}=…`).join(',')}`);
  const dims = dimsGiven ?? { ...src.variant!.dims.check };
  // a problem with user-given dims is a usage error that says so
  const sizes = dimsGiven ? checkDims(graph, dims) : resolveSizes(graph, dims);

  const outNames = graph.outputs.map((o) => o.name);
  const outFiles = outputFiles(outNames, parseAssignments(list(f.out), '--out', true));

  const useGpu = !f.interp;
  const needPlan = useGpu || f.explain || f.wgsl !== undefined;
  // a schedule tuned for this graph, size bucket and adapter (einattn tune) is used unless --no-tuned
  const rt = useGpu ? await openRuntime(adapter) : undefined;
  const tuned = rt && !f['no-tuned'] ? tunedOptions(graph, dims, rt) : undefined;
  let compiled: Compiled | undefined;
  try {
    compiled = compile(graph, { ...(tuned?.options ?? {}), ...precision.options, ...(f['require-fused'] ? { fused: 'require' as const } : {}) });
  } catch (e) {
    // For --interp alone the plan only refines i32 index ranges, so a graph the
    // lowering cannot handle yet still runs on the interpreter.
    if (needPlan || f['require-fused']) throw e;
  }

  const inSpecs = parseAssignments(list(f.in), '--in');
  const files = new Map(inSpecs);
  const inputs = await loadInputs(graph, sizes, inSpecs, list(f.random), f['random-rest'] === true, seed, compiled);

  // the plan this run uses on this adapter (split, schedule, subgroups), not the generic one
  const shownPlan = f.explain || f.wgsl !== undefined ? (rt ? await compiled!.planOn(dims, rt) : compiled!.planFor(dims)) : undefined;
  if (f.explain) console.log(explainPlan(shownPlan!));
  if (f.wgsl !== undefined) {
    const paths = writeWgsl({ plan: shownPlan! }, str(f.wgsl)!);
    console.log(`wrote ${paths.length} WGSL file${paths.length === 1 ? '' : 's'} to ${str(f.wgsl)}`);
  }
  if (f['dry-run']) return 0;

  const gpuInputs = Object.fromEntries(inputs.map((i) => [i.name, i.gpu]));
  const interpInputs = Object.fromEntries(inputs.map((i) => [i.name, i.values]));
  let gpuResult: Record<string, CompiledOutput> | undefined;
  let refResult: Record<string, Result> | undefined;
  let where = 'interpreter (float64)';
  let timingText: string[] = [];

  if (rt) {
    where = `${adapterLine(rt)} adapter`;
    ({ outputs: gpuResult, timingText } = await runOnGpu(compiled!, gpuInputs, dims, rt, repeat));
  }
  if (!useGpu || f.check) {
    const r = interpret(graph, interpInputs, dims);
    refResult = {};
    for (const [name, arr] of Object.entries(r)) refResult[name] = { dtype: outputDtype(graph, name), axes: arr.axes, shape: arr.shape, data: arr.data };
  }

  const shown: Record<string, Result> = gpuResult
    ? Object.fromEntries(Object.entries(gpuResult).map(([n, o]) => [n, { dtype: outputDtype(graph, n), axes: o.axes, shape: o.shape, data: o.data }]))
    : refResult!;

  for (const [name, path] of outFiles) {
    const o = shown[name]!;
    await writeNpy(path, toNpy(o.dtype, o.shape, o.data));
  }

  if (!f.quiet) {
    console.log(`${src.label} on ${where}; sizes ${dimsText(dims)}${precision.text}`);
    if (rt && precision.f16 && !rt.features.has('shader-f16')) console.log('f16 ran as f32 (--f16-fallback): the adapter has no shader-f16');
    printSummary(inputs, files, shown, sizes, seed);
    for (const [name, path] of outFiles) console.log(`wrote ${name} to ${path}`);
  }
  if (tuned && !f.quiet) console.log(`schedule: ${tuned.source}`);
  for (const line of timingText) console.log(line);

  if (f.check && !checkResults(graph, sizes, precision.f16, gpuResult!, refResult!)) {
    console.error('einattn: check failed: the GPU result differs from the interpreter by more than the tolerance');
    return 1;
  }
  return 0;
}

/** Runs the plan on the GPU, once or `repeat` times after a warm-up (then with the timing lines to print). */
async function runOnGpu(compiled: Compiled, inputs: Record<string, RunInput>, dims: Record<string, number>, rt: Runtime, repeat: number) {
  try {
    if (repeat === 0) return { outputs: (await compiled.run(inputs, dims, { runtime: rt })).outputs, timingText: [] };
    const t = await timeRuns(compiled, inputs, dims, rt, repeat);
    const names = compiled.plan.kernels.map((k) => k.name);
    const timingText = [
      `timing: 1 warm-up + ${repeat} run${repeat === 1 ? '' : 's'}, kernel time (sum of ${names.length} kernel${names.length === 1 ? '' : 's'}, ${t.method}): median ${fmtMs(t.medianMs)} (min ${fmtMs(t.minMs)}, max ${fmtMs(t.maxMs)})`,
      ...names.map((n, i) => `  ${n}: ${fmtMs(t.perKernelMs[i]!)} median`),
    ];
    return { outputs: t.outputs, timingText };
  } catch (e) {
    // the library's hint names the compile() option; on the command line it is a flag
    if (e instanceof EinattnError && e.code === 'DTYPE' && /f16Fallback/.test(e.message))
      throw new EinattnError('DTYPE', e.message.replace(/compile\(graph, \{ f16Fallback: 'f32' \}\)/, 'einattn run --f16-fallback'));
    throw e;
  }
}

/** The --out files as (output, path) pairs; a bare path names the only output. */
function outputFiles(outNames: string[], specs: [string, string][]): [string, string][] {
  return specs.map(([name, path]) => {
    if (name === '') {
      if (outNames.length !== 1) usage(`--out ${path}: the graph has ${outNames.length} outputs (${outNames.join(', ')}); write --out name=${path}`);
      return [outNames[0]!, path];
    }
    if (!outNames.includes(name)) usage(`--out ${name}=${path}: the graph has no output '${name}' (outputs: ${outNames.join(', ')})`);
    return [name, path];
  });
}

/** Prints where the inputs came from and a line of statistics per output. */
function printSummary(inputs: CliInput[], files: Map<string, string>, shown: Record<string, Result>, sizes: Record<string, number>, seed: number): void {
  const random = inputs.filter((i) => !files.has(i.name)).map((i) => i.name);
  const described = inputs.map((i) => `${i.name} ${i.dtype}${axesText(i.axes, sizes)}${files.has(i.name) ? ` from ${i.source}` : ''}`);
  console.log(`inputs: ${described.join(', ')}${random.length ? `; ${random.join(', ')} pseudo-random (seed ${seed})` : ''}`);
  for (const [name, o] of Object.entries(shown)) {
    const s = arrayStats(o.data);
    const bad = s.nonFinite ? `  ${s.nonFinite} non-finite` : '';
    console.log(
      `${name}: ${o.dtype}${axesText(o.axes, sizes)}  mean ${fmtNum(s.mean, 4)}  abs-max ${fmtNum(s.absMax, 4)}${bad}  first: ${firstValues(o.data)}`,
    );
  }
}

/** --check: prints each output's error against the interpreter and its tolerance; whether all are within it. */
function checkResults(graph: Graph, sizes: Record<string, number>, f16: boolean, gpu: Record<string, CompiledOutput>, ref: Record<string, Result>): boolean {
  const tol = toleranceFor(graph, sizes, f16);
  console.log(`check against the interpreter: ${tol.rule}`);
  let ok = true;
  for (const o of graph.outputs) {
    const c = compareArrays(gpu[o.name]!.data, ref[o.name]!.data);
    const allowed = allowedError(tol, c.refAbsMax, ref[o.name]!.dtype);
    const pass = c.maxAbs <= allowed;
    ok &&= pass;
    console.log(
      `  ${o.name}: max abs err ${fmtNum(c.maxAbs)}, max rel err ${fmtNum(c.maxRel)} (to |ref|max ${fmtNum(c.refAbsMax)}), allowed ${fmtNum(allowed)}: ${pass ? 'ok' : 'FAIL'}`,
    );
  }
  return ok;
}

/**
 * The run's inputs: the --in files, and pseudo-random values for the rest when no --in is given
 * or when asked for (--random NAME, --random-rest). The files are read first, so a bad file is
 * reported before an input left without a value.
 */
async function loadInputs(
  graph: Graph,
  sizes: Record<string, number>,
  given: [string, string][],
  random: string[],
  rest: boolean,
  seed: number,
  compiled: Compiled | undefined,
): Promise<CliInput[]> {
  const { sources, missing } = inputSources(
    graph.inputs.map((i) => i.name),
    given,
    random,
    rest,
  );
  const ranges = indexRanges(graph, sizes, compiled?.plan);
  const read = new Map<string, CliInput>();
  for (const decl of graph.inputs) {
    const source = sources.get(decl.name);
    if (source?.kind === 'file') read.set(decl.name, await npyInput(source.path, decl, sizes));
  }
  if (missing.length)
    missingInputs(
      missing,
      given.map(([name]) => name),
    );
  return graph.inputs.map((decl) => read.get(decl.name) ?? randomInput(decl, sizes, seed, ranges));
}

/** The compile options of --compute, --storage and --f16-fallback, and how to describe them. */
function precisionOptions(compute: string | undefined, storage: string | undefined, fallback: boolean) {
  if (compute !== undefined && compute !== 'f32' && compute !== 'f16') usage(`--compute must be f32 or f16, got '${compute}'`);
  if (storage !== undefined && storage !== 'f16') usage(`--storage must be f16 (f32 inputs and outputs stored as f16), got '${storage}'`);
  const options = {
    ...(compute === 'f16' ? { compute: 'f16' as const } : {}),
    ...(storage === 'f16' ? { storage: 'f16' as const } : {}),
    ...(fallback ? { f16Fallback: 'f32' as const } : {}),
  };
  const parts = [...(compute === 'f16' ? ['f16 compute'] : []), ...(storage === 'f16' ? ['f16 storage'] : [])];
  return { options, f16: parts.length > 0, text: parts.length ? `; ${parts.join(', ')}` : '' };
}
