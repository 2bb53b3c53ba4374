/**
 * `einattn tour` (`npm start`): the first thing to run. Every built-in variant is
 * lowered, checked against the interpreter, timed, and summed up in a table, a JSON
 * report and a self-contained HTML page.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { compile, type Compiled } from '../compile.ts';
import { kvPerToken } from '../cost/index.ts';
import { renderAll, writeAll } from '../../codegen/index.ts';
import { interpret, resolveSizes, type Graph } from '../index.ts';
import { adapterReport, type AdapterReport, type Runtime } from '../runtime/index.ts';
import { resolveOptions, variants, type Variant } from '../variants/index.ts';
import { parseFlags, positiveInt, usage } from './args.ts';
import { indexRanges, randomInput, type CliInput } from './data.ts';
import { dimsText, fmtBytes, fmtMs, fmtNum, oneLine, table } from './format.ts';
import { adapterFlag, adapterLine, openRuntime, timeRuns, writeWgsl } from './gpu.ts';
import { allowedError, arrayStats, capDims, compareArrays, toleranceFor } from './numerics.ts';
import { renderReport, type OutputCheck, type TourReport, type TourVariant } from './report.ts';
import { packageVersion } from './version.ts';

/** Timing shapes are capped at about this many multiply-adds per run, so a CPU rasteriser takes tens of ms per run. */
const WORK_BUDGET = 2 ** 27;
const SEED = 0;

const write = (s: string) => process.stdout.write(s);
const errorText = (e: unknown) => oneLine(e instanceof Error ? e.message : String(e));

function makeInputs(graph: Graph, dims: Record<string, number>, compiled: Compiled): CliInput[] {
  const sizes = resolveSizes(graph, dims);
  const ranges = indexRanges(graph, sizes, compiled.plan);
  return graph.inputs.map((d) => randomInput(d, sizes, SEED, ranges));
}

async function tourVariant(v: Variant, rt: Runtime | null, outDir: string, small: boolean, runs: number, progress: string): Promise<TourVariant> {
  const result: TourVariant = {
    name: v.name,
    summary: v.summary,
    graph: '',
    kernels: [],
    wgsl: [],
    check: null,
    timing: null,
    kvBytesPerToken: NaN,
    kvDims: { ...v.dims.bench },
    pass: false,
  };
  write(`${progress} ${v.name}: lowering… `);
  try {
    const graph = v.build(resolveOptions(v));
    // derived from the graph by the cost model (the variant's own formula is a cross-check in test/cost)
    result.kvBytesPerToken = kvPerToken(graph, resolveSizes(graph, v.dims.bench), 4).bytes;
    result.graph = graph.name;
    const compiled = compile(graph);
    result.kernels = compiled.plan.kernels.map((k) => k.name);
    result.wgsl = writeWgsl(compiled, join(outDir, v.name)).map((p) => relative(outDir, p));
    write(`${result.kernels.length} kernel${result.kernels.length === 1 ? '' : 's'}; checking${rt ? '' : ' (interpreter only)'}… `);

    const dims = { ...v.dims.check };
    const sizes = resolveSizes(graph, dims);
    const inputs = makeInputs(graph, dims, compiled);
    const ref = interpret(graph, Object.fromEntries(inputs.map((i) => [i.name, i.values])), dims);
    const tol = toleranceFor(graph, sizes);
    const outputs: OutputCheck[] = [];
    if (rt) {
      const got = (await compiled.run(Object.fromEntries(inputs.map((i) => [i.name, i.gpu])), dims, { runtime: rt })).outputs;
      for (const o of graph.outputs) {
        const c = compareArrays(got[o.name]!.data, ref[o.name]!.data);
        const allowed = allowedError(tol, c.refAbsMax, o.node.dtype);
        outputs.push({ name: o.name, maxAbs: c.maxAbs, maxRel: c.maxRel, refAbsMax: c.refAbsMax, allowed, pass: c.maxAbs <= allowed });
      }
    } else {
      // Without a GPU the only claim we can check is that the reference itself is sane.
      for (const o of graph.outputs) {
        const s = arrayStats(ref[o.name]!.data);
        outputs.push({ name: o.name, maxAbs: NaN, maxRel: NaN, refAbsMax: s.absMax, allowed: NaN, pass: s.nonFinite === 0 });
      }
    }
    const pass = outputs.every((o) => o.pass);
    result.check = { mode: rt ? 'gpu' : 'interpreter only', dims, rule: tol.rule, outputs, pass };
    if (rt) {
      const worst = outputs.reduce((m, o) => (o.maxAbs > m.maxAbs ? o : m), outputs[0]!);
      write(`${pass ? 'ok' : 'FAIL'} (max err ${fmtNum(worst.maxAbs)} ≤ ${fmtNum(worst.allowed)}); `);
    } else write(`${pass ? 'ok, outputs finite' : 'FAIL, non-finite outputs'}`);

    if (rt) {
      const benchDims = small ? { ...v.dims.check } : capDims(graph, v.dims.bench, WORK_BUDGET);
      const capped = !small && dimsText(benchDims) !== dimsText(v.dims.bench);
      write(`timing at ${dimsText(benchDims)}${capped ? ' (capped)' : ''}… `);
      const tInputs = small ? inputs : makeInputs(graph, benchDims, compiled);
      const t = await timeRuns(compiled, Object.fromEntries(tInputs.map((i) => [i.name, i.gpu])), benchDims, rt, runs);
      result.timing = {
        dims: benchDims,
        benchDims: { ...v.dims.bench },
        capped,
        runs,
        medianMs: t.medianMs,
        minMs: t.minMs,
        maxMs: t.maxMs,
        perKernelMs: t.perKernelMs,
        method: t.method,
      };
      write(`${fmtMs(t.medianMs)}`);
    }
    result.pass = pass;
    write('\n');
  } catch (e) {
    result.error = errorText(e);
    result.pass = false;
    write(`FAILED: ${result.error}\n`);
  }
  return result;
}

function summaryTable(r: TourReport): string {
  const rows = r.variants.map((v) => {
    const worst = v.check?.outputs.reduce((m, o) => (o.maxAbs > m.maxAbs ? o : m), v.check.outputs[0]!);
    const check = !v.check
      ? 'error'
      : v.check.mode === 'gpu'
        ? `${v.check.pass ? 'ok' : 'FAIL'} ${fmtNum(worst!.maxAbs)} ≤ ${fmtNum(worst!.allowed)}`
        : `${v.check.pass ? 'ok' : 'FAIL'} (interpreter only)`;
    return [
      v.name,
      String(v.kernels.length),
      check,
      v.timing ? fmtMs(v.timing.medianMs) : '-',
      v.timing ? `${dimsText(v.timing.dims)}${v.timing.capped ? ' (capped)' : ''}` : '-',
      Number.isFinite(v.kvBytesPerToken) ? fmtBytes(v.kvBytesPerToken) : '-',
    ];
  });
  return table(['variant', 'kernels', 'check (max abs err ≤ allowed)', 'time (median)', 'timing shape', 'KV bytes/token (f32)'], rows);
}

/**
 * Runs `einattn tour` and returns the exit code (1 when any check fails or there is no adapter).
 * @example process.exitCode = await tourCommand(['--small', '--out', 'out/ci'])
 */
export async function tourCommand(argv: string[]): Promise<number> {
  const { values: f, positionals } = parseFlags(
    argv,
    { out: { type: 'string' }, small: { type: 'boolean' }, only: { type: 'string' }, repeat: { type: 'string' }, adapter: { type: 'string' } },
    'tour',
  );
  if (positionals.length) usage(`tour takes no arguments, got ${positionals.join(' ')}`);
  const outDir = typeof f.out === 'string' ? f.out : join('out', 'tour');
  const small = f.small === true;
  const runs = typeof f.repeat === 'string' ? positiveInt(f.repeat, '--repeat') : small ? 3 : 5;
  const adapter = adapterFlag(typeof f.adapter === 'string' ? f.adapter : undefined);
  const chosen = pickVariants(typeof f.only === 'string' ? f.only : undefined);
  const t0 = performance.now();
  mkdirSync(outDir, { recursive: true });

  let rt: Runtime | null = null;
  let report: AdapterReport | null = null;
  let adapterError: string | undefined;
  try {
    rt = await openRuntime(adapter);
    report = adapterReport(rt);
    console.log(`einattn tour: ${chosen.length} variant${chosen.length === 1 ? '' : 's'} on ${adapterLine(rt)}`);
    console.log(`  ${rt.reason}`);
  } catch (e) {
    if ((e as { code?: string }).code !== 'NO_ADAPTER') throw e;
    adapterError = errorText(e);
    console.error(`einattn: ${adapterError}`);
    console.error('To get a software WebGPU adapter on Debian/Ubuntu, run:  bash scripts/setup-system.sh');
    console.error('  (it installs Mesa lavapipe — mesa-vulkan-drivers and libvulkan1 — from bookworm-backports)');
    console.log(`einattn tour: ${chosen.length} variant${chosen.length === 1 ? '' : 's'}, INTERPRETER ONLY (no WebGPU adapter; no kernels run or timed)`);
  }
  console.log(`  writing WGSL and reports to ${resolve(outDir)}`);

  const results: TourVariant[] = [];
  for (const [i, v] of chosen.entries()) results.push(await tourVariant(v, rt, outDir, small, runs, `[${i + 1}/${chosen.length}]`));

  const tour: TourReport = {
    tool: 'einattn',
    version: packageVersion(),
    createdAt: new Date().toISOString(),
    small,
    adapter: report,
    ...(adapterError !== undefined ? { adapterError } : {}),
    interpreterOnly: rt === null,
    variants: results,
    pass: rt !== null && results.every((r) => r.pass),
    elapsedMs: performance.now() - t0,
  };
  // JSON has no NaN or Infinity; null marks "not measured".
  writeFileSync(join(outDir, 'report.json'), JSON.stringify(tour, (_k, val) => (typeof val === 'number' && !Number.isFinite(val) ? null : val), 2) + '\n');
  writeFileSync(join(outDir, 'report.html'), renderReport(tour));

  console.log('');
  console.log(summaryTable(tour));
  console.log('');
  const timed = results.find((r) => r.timing)?.timing;
  if (rt) {
    console.log(
      `checks: GPU vs float64 interpreter on each variant's check sizes; allowed = 1e-5·√L·max(1, |ref|max) + 1e-6 (f32; 2e-3 with f16), L = longest reduction`,
    );
    if (timed)
      console.log(
        `timing: median kernel time (${timed.method}) of ${runs} runs after a warm-up${small ? ', on the check sizes (--small)' : `; shapes capped at ~${WORK_BUDGET.toExponential(1)} multiply-adds`}`,
      );
  } else console.log('checks: interpreter only (outputs finite); nothing timed');
  console.log(`report: ${join(outDir, 'report.html')} and report.json; WGSL: ${join(outDir, '<variant>', '<kernel>.wgsl')}`);
  // the same kernels as build-time modules with typed launchers (what `einattn generate --builtin` writes)
  try {
    const gen = renderAll(variants.map((v) => ({ graph: v.build(resolveOptions(v)), source: `builtin:${v.name}` })));
    writeAll(gen, join(outDir, 'kernels'));
    console.log(
      `kernel modules: ${join(outDir, 'kernels')} (${gen.graphs} TypeScript modules with typed launchers, ${gen.kernels} kernels, generated in ${gen.ms.toFixed(0)} ms)`,
    );
  } catch (e) {
    console.error(`einattn: kernel modules not written: ${errorText(e)}`);
  }
  const failed = results.filter((r) => !r.pass).map((r) => r.name);
  if (rt === null) {
    console.error('einattn: interpreter only: no WebGPU adapter, so no kernel was checked or timed (see above for what to install)');
    return 1;
  }
  if (failed.length) {
    console.error(`einattn: tour failed for ${failed.join(', ')}`);
    return 1;
  }
  console.log(`all ${results.length} variant${results.length === 1 ? '' : 's'} pass (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  return 0;
}

/** The variants `--only a,b` names (every built-in without it); an unknown name is a usage error listing them. */
function pickVariants(only: string | undefined): readonly Variant[] {
  if (only === undefined) return variants;
  const names = only
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !variants.some((v) => v.name === n));
  if (unknown.length || !names.length)
    usage(`tour --only: no variant ${unknown.map((n) => `'${n}'`).join(', ') || 'named'} (variants: ${variants.map((v) => v.name).join(', ')})`);
  return variants.filter((v) => names.includes(v.name));
}
