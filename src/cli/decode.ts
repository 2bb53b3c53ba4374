/** `einattn decode`: the decode loop as a user runs it — a device KV cache, N steps, the host-array path beside it. */
import { checkDecode, runDecode, type DecodeReport } from '../decode/index.ts';
import type { TimeStats } from '../tune/stats.ts';
import { findVariant, variants } from '../variants/index.ts';
import { parseDims, parseFlags, parseOptFlags, positiveInt, usage, variantOptions, flagList as list, flagString as str, nonNegativeInt } from './args.ts';
import { dimsText, fmtMs, fmtNum } from './format.ts';
import { adapterFlag, adapterLine, openRuntime } from './gpu.ts';

const FLAGS = {
  dims: { type: 'string', multiple: true },
  opt: { type: 'string', multiple: true },
  steps: { type: 'string' },
  'host-repeat': { type: 'string' },
  'no-check': { type: 'boolean' },
  seed: { type: 'string' },
  adapter: { type: 'string' },
  json: { type: 'boolean' },
} as const;

const spreadText = (s: TimeStats) => `${fmtMs(s.median)} (IQR ${fmtMs(s.p25)}–${fmtMs(s.p75)})`;

/** The report as the lines a person reads. */
function report(r: DecodeReport): string[] {
  const wall = r.step_wall_ms.median;
  const host = r.host_step_wall_ms?.median;
  return [
    `${r.graph} at ${dimsText(r.dims)}: ${r.steps} steps after a prefill of ${r.prefill.join(', ')} tokens per sequence`,
    `one step = ${r.passes.length} passes in one submission: ${r.passes.join(', ')}`,
    `step wall:    ${spreadText(r.step_wall_ms)} per step of the loop (one step in flight while the next is recorded)`,
    `step latency: ${spreadText(r.step_latency_ms)} for one step alone (record, submit, wait)`,
    `step kernels: ${spreadText(r.step_kernel_ms)}  (wall / kernel ${fmtNum(wall / r.step_kernel_ms.median)})`,
    ...(r.host_step_wall_ms
      ? [`host arrays:  ${spreadText(r.host_step_wall_ms)} per step (the cache uploaded every call): ${fmtNum(host! / wall)}× the device step`]
      : []),
    ...(r.max_abs_err !== null ? [`last step vs the interpreter: max abs error ${fmtNum(r.max_abs_err)}`] : []),
  ];
}

/**
 * Runs `einattn decode <variant>` and returns the exit code.
 * @example process.exitCode = await decodeCommand(['gqa', '--dims', 'b=1,h=32,g=8,t=8192,d=128,dv=128', '--steps', '32'])
 */
export async function decodeCommand(argv: string[]): Promise<number> {
  const { values: f, positionals } = parseFlags(argv, FLAGS, 'decode');
  if (positionals.length !== 1) usage(`decode takes one variant name, e.g. einattn decode gqa --steps 16 (gqa, mqa, mha, mla_decode, paged, gqa_int8)`);
  const v = findVariant(positionals[0]!);
  if (!v) usage(`decode: no variant '${positionals[0]}' (variants: ${variants.map((x) => x.name).join(', ')})`);
  const raw = parseOptFlags(list(f.opt));
  const typed = variantOptions(v, raw);
  // only what the user gave: decode turns on cache and causal unless told otherwise
  const opts = Object.fromEntries(Object.keys(raw).map((k) => [k, typed[k]!]));
  const { s: _s, ...defaults } = v.dims.bench;
  const dims = list(f.dims).length ? parseDims(list(f.dims)) : defaults;
  const steps = f.steps === undefined ? 16 : positiveInt(str(f.steps)!, '--steps');
  const hostRepeats = f['host-repeat'] === undefined ? 3 : nonNegativeInt(str(f['host-repeat'])!, '--host-repeat');
  const seed = f.seed === undefined ? 1 : nonNegativeInt(str(f.seed)!, '--seed');
  // a bad request is a usage error before the GPU is opened
  checkDecode({ variant: v.name, opts, dims, steps });
  const rt = await openRuntime(adapterFlag(str(f.adapter)));
  if (!f.json) console.log(adapterLine(rt));
  const r = await runDecode({ variant: v.name, opts, dims, steps, runtime: rt, check: !f['no-check'], hostRepeats, seed });
  if (f.json) console.log(JSON.stringify(r));
  else for (const line of report(r)) console.log(line);
  return 0;
}
