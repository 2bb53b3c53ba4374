/**
 * `einattn bench` (also `npm run bench`): every default row on einattn, the
 * interpreter and ONNX Runtime, with the measured roofline; writes JSON, markdown
 * and SVG, or prints one row as JSON for scripts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  benchMarkdown,
  benchRooflineSvg,
  noisy,
  speedup,
  customCase,
  DEFAULT_CASES,
  DEFAULT_DECODE_STEPS,
  QUICK_CASES,
  QUICK_DECODE_STEPS,
  runBench,
  selectCases,
  SYSTEMS,
  timesSvg,
  variantOf,
  type BenchCase,
  type BenchResult,
  type SystemName,
} from '../bench/index.ts';
import { adapterId, type Runtime } from '../runtime/index.ts';
import { tune, tunedOptions } from '../tune/index.ts';
import { checkDims, parseDims, parseFlags, parseOptFlags, positiveInt, usage, variantOptions, flagList as list, flagString as str } from './args.ts';
import { adapterFlag, openRuntime } from './gpu.ts';
import { repeatability } from './repeatability.ts';

const FLAGS = {
  only: { type: 'string' },
  dims: { type: 'string', multiple: true },
  opt: { type: 'string', multiple: true },
  systems: { type: 'string' },
  repeat: { type: 'string' },
  quick: { type: 'boolean' },
  json: { type: 'boolean' },
  out: { type: 'string' },
  tune: { type: 'string' },
  'no-tuned': { type: 'boolean' },
  adapter: { type: 'string' },
  repeatability: { type: 'boolean' },
} as const;

/**
 * A file-name-safe slug of an adapter identity.
 * @example adapterSlug('software llvmpipe: Mesa 25.0.7 (vulkan)') // 'software-llvmpipe-mesa-25.0.7-vulkan'
 */
export function adapterSlug(id: string): string {
  return id
    .toLowerCase()
    .replace(/\(llvm [^)]*\)|[0-9.]+\s*$/g, '')
    .replace(/[^a-z0-9.]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);
}

/** The JSON one row prints with --json: one object per system. */
function jsonRows(result: BenchResult): object[] {
  return result.rows.map((r) => ({
    system: r.system,
    variant: r.variant,
    case: r.case,
    opts: r.opts,
    dims: r.dims,
    status: r.status,
    ...(r.reason ? { reason: r.reason } : {}),
    median_ms: r.wall?.median ?? null,
    p25_ms: r.wall?.p25 ?? null,
    p75_ms: r.wall?.p75 ?? null,
    kernel_ms: r.kernel?.median ?? null,
    gflops: r.gflops ?? null,
    gbps: r.gbps ?? null,
    roofline_fraction: r.rooflineFraction ?? null,
    max_abs_diff: r.maxAbsDiff ?? null,
    noisy: noisy(r),
    speedup_ort_webgpu: r.system.startsWith('einattn') ? (speedup(result.rows, r, 'ort-webgpu') ?? null) : null,
    gpu_bytes: r.gpu?.bytes ?? null,
    largest_temp_bytes: r.gpu?.largestTemp ?? null,
    adapter: result.adapter.id,
  }));
}

/**
 * Runs `einattn bench` and returns the exit code.
 * @example process.exitCode = await benchCommand(['--quick'])
 */
export async function benchCommand(argv: string[]): Promise<number> {
  const { values: f, positionals } = parseFlags(argv, FLAGS, 'bench');
  if (positionals.length) usage(`bench takes no positional arguments, got '${positionals.join(' ')}' (did you mean --only ${positionals[0]}?)`);
  const only = str(f.only);
  if (f.repeatability) {
    // an unknown row is a usage error here, not a failed child process
    selectCases(f.quick ? QUICK_CASES : DEFAULT_CASES, only ?? 'gqa-decode-4096');
    const passOn = argv.filter((a, i) => a !== '--repeatability' && a !== '--only' && argv[i - 1] !== '--only');
    console.log(await repeatability(only ?? 'gqa-decode-4096', passOn, 3, (line) => console.error(line)));
    return 0;
  }
  const dimsGiven = list(f.dims).length ? parseDims(list(f.dims)) : undefined;
  const optsGiven = list(f.opt).length ? parseOptFlags(list(f.opt)) : undefined;
  if ((dimsGiven || optsGiven) && only === undefined) usage(`--dims and --opt describe one row: give the variant with --only <variant>`);
  let cases: BenchCase[];
  const stepCases = f.quick ? QUICK_DECODE_STEPS : DEFAULT_DECODE_STEPS;
  // decode-step rows: all of them in a full run, one when --only names it, none for a custom row
  let decodeSteps = dimsGiven || optsGiven ? [] : stepCases.filter((c) => only === undefined || c.id === only || only === 'decode-steps');
  if (decodeSteps.length && only !== undefined) cases = [];
  else if (dimsGiven || optsGiven) {
    const v = variantOf(only!);
    const dims = dimsGiven ?? v.dims.bench;
    cases = [customCase(only!, dims, optsGiven ? variantOptions(v, optsGiven) : {})];
    checkDims(v.build(cases[0]!.opts), dims);
  } else {
    cases = selectCases(f.quick ? QUICK_CASES : DEFAULT_CASES, only);
    decodeSteps = only === undefined ? decodeSteps : [];
  }
  const systems = (str(f.systems)
    ?.split(',')
    .map((s) => s.trim()) ?? [...SYSTEMS]) as SystemName[];
  for (const s of systems) if (!(SYSTEMS as readonly string[]).includes(s)) usage(`--systems: no system '${s}' (systems: ${SYSTEMS.join(', ')})`);
  const repeat = f.repeat === undefined ? (f.quick ? 3 : 7) : positiveInt(str(f.repeat)!, '--repeat');
  const tuneBudget = f.tune === undefined ? undefined : positiveInt(str(f.tune)!, '--tune');
  const log = (line: string) => console.error(line);

  const rt: Runtime = await openRuntime(adapterFlag(str(f.adapter)));
  log(`bench on ${adapterId(rt)}: ${cases.length} row${cases.length === 1 ? '' : 's'} × ${systems.join(', ')}; ${repeat} timed calls each`);
  if (tuneBudget !== undefined) {
    for (const c of cases) {
      log(`tuning ${c.id} (budget ${tuneBudget} s)…`);
      await tune(variantOf(c.variant).build(c.opts), c.dims, { runtime: rt, budgetSeconds: tuneBudget, progress: log });
    }
  }
  const result = await runBench({
    cases,
    systems,
    repeat,
    runtime: rt,
    progress: log,
    decodeSteps,
    scheduleFor: (c, graph) => {
      // schedules are tuned at f32 arithmetic; an f16-compute row runs the default
      if (f['no-tuned'] || c.compute) return undefined;
      const t = tunedOptions(graph, c.dims, rt);
      return t && { source: t.source, values: { ...t.options.flashSchedule } };
    },
  });
  if (f.json) {
    console.log(JSON.stringify(jsonRows(result), null, 2));
    return result.rows.some((r) => r.status === 'error') ? 1 : 0;
  }
  const dir = str(f.out) ?? join('bench', 'results');
  mkdirSync(dir, { recursive: true });
  const slug = adapterSlug(result.adapter.id) + (f.quick ? '-quick' : '');
  const command = `npm run bench --${argv.length ? ` ${argv.join(' ')}` : ''}`.replace(/ --$/, '');
  const paths = {
    json: join(dir, `${slug}.json`),
    md: join(dir, `${slug}.md`),
    times: join(dir, `${slug}.times.svg`),
    roofline: join(dir, `${slug}.roofline.svg`),
  };
  writeFileSync(paths.json, JSON.stringify({ command, ...result }, null, 2) + '\n');
  writeFileSync(paths.md, benchMarkdown(result, command));
  writeFileSync(paths.times, timesSvg(result));
  writeFileSync(paths.roofline, benchRooflineSvg(result));
  console.log(benchMarkdown(result, command));
  console.log(`wrote ${Object.values(paths).join(', ')}`);
  return result.rows.some((r) => r.status === 'error') ? 1 : 0;
}
