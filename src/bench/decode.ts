/**
 * Decode-step rows of the bench: a real decode loop on a device KV cache (one submission
 * per step, no data moved) against the same step through host arrays and against ONNX
 * Runtime WebGPU's row of the same problem, all in the same run.
 */
import { runDecode, type DecodeReport } from '../decode/index.ts';
import type { Runtime } from '../runtime/index.ts';
import { fmt } from './format.ts';
import type { BenchRow } from './run.ts';

/** One decode-step row: a variant, its sizes (t = capacity) and the steps timed. */
export interface DecodeStepCase {
  id: string;
  variant: string;
  dims: Record<string, number>;
  steps: number;
}

/** The measured row, with ORT WebGPU's wall time per call of the same attention where the bench has it. */
export interface DecodeStepRow {
  case: DecodeStepCase;
  status: 'ok' | 'error';
  reason?: string;
  report?: DecodeReport;
  /** median wall ms of ORT WebGPU on the bench row of the same variant and sizes (host arrays in, output read back) */
  ortWebgpuMs?: number;
}

const gqa8192 = { b: 1, h: 32, g: 8, t: 8192, d: 128, dv: 128 };
/** Issue 18's rows: GQA at t = 8192, MLA decode at DeepSeek-V2 shapes, paged, int8. */
export const DEFAULT_DECODE_STEPS: readonly DecodeStepCase[] = [
  { id: 'step-gqa-8192', variant: 'gqa', dims: gqa8192, steps: 16 },
  { id: 'step-mla-decode-1024', variant: 'mla_decode', dims: { b: 1, h: 128, t: 1024, dn: 128, dr: 64, dc: 512, dv: 128 }, steps: 16 },
  { id: 'step-paged-2048', variant: 'paged', dims: { b: 8, h: 8, g: 2, blk: 16, m: 128, d: 64, dv: 64 }, steps: 16 },
  { id: 'step-gqa-int8-4096', variant: 'gqa_int8', dims: { ...gqa8192, t: 4096 }, steps: 16 },
];

/** Small versions for `--quick` and the tests. */
export const QUICK_DECODE_STEPS: readonly DecodeStepCase[] = [
  { id: 'step-gqa-512', variant: 'gqa', dims: { ...gqa8192, t: 512 }, steps: 4 },
  { id: 'step-paged-256', variant: 'paged', dims: { b: 2, h: 8, g: 2, blk: 16, m: 16, d: 64, dv: 64 }, steps: 4 },
];

/** The ORT WebGPU row of the same problem: same variant, same sizes with s = 1. */
function ortRow(rows: readonly BenchRow[], c: DecodeStepCase): BenchRow | undefined {
  const variant = c.variant === 'gqa_int8' ? undefined : c.variant;
  return rows.find(
    (r) => r.system === 'ort-webgpu' && r.status === 'ok' && r.variant === variant && Object.entries({ ...c.dims, s: 1 }).every(([k, v]) => r.dims[k] === v),
  );
}

/**
 * Runs each decode-step row (the interpreter checks each last step).
 * @example const rows = await runDecodeSteps(QUICK_DECODE_STEPS, rt, benchRows)
 */
export async function runDecodeSteps(
  cases: readonly DecodeStepCase[],
  runtime: Runtime,
  rows: readonly BenchRow[],
  progress: (line: string) => void = () => {},
): Promise<DecodeStepRow[]> {
  const out: DecodeStepRow[] = [];
  for (const c of cases) {
    try {
      const report = await runDecode({ variant: c.variant, dims: c.dims, steps: c.steps, runtime });
      const ort = ortRow(rows, c);
      out.push({ case: c, status: 'ok', report, ...(ort?.wall ? { ortWebgpuMs: ort.wall.median } : {}) });
      progress(
        `decode step ${c.id}: ${report.step_wall_ms.median.toFixed(2)} ms wall, ${report.step_kernel_ms.median.toFixed(2)} ms kernels, host arrays ${report.host_step_wall_ms?.median.toFixed(2)} ms`,
      );
    } catch (e) {
      out.push({ case: c, status: 'error', reason: (e as Error).message.split('\n')[0] });
      progress(`decode step ${c.id}: error: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return out;
}

/**
 * The decode-step section of the markdown report, with issue 18's target per row.
 * @example lines.push(...decodeStepMarkdown(result.decodeSteps))
 */
export function decodeStepMarkdown(rows: readonly DecodeStepRow[]): string[] {
  if (!rows.length) return [];
  const lines = [
    '',
    '## Decode steps on a device KV cache',
    '',
    'A decode loop as an application runs it (`einattn decode`): the cache lives on the device at capacity t (paged: m·blk), a',
    'prefill fills it, then each step is one submission (append one token per sequence in place, advance the lengths, attend).',
    '"step wall" is the wall time per step of the loop (step i+1 recorded and submitted while step i runs, as an application',
    'that samples on the GPU does); "latency" is one step alone (record, submit, wait); "host arrays" is the same attention',
    'called with the whole cache as host arrays (uploaded every call, output read back); "ORT WebGPU" is its row above (host arrays).',
    'Target (issue 18, GQA t=8192): step wall ≤ 1.5 × step kernels + 1 ms, and host arrays ≥ 5 × step wall.',
    '',
    '| row | steps | step wall ms (IQR) | latency ms | step kernels ms | wall ≤ 1.5×kernel+1 | host arrays ms | host / step | ORT WebGPU ms | ORT / step | max abs err |',
    '|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const label = `${r.case.id}<br><sub>${Object.entries(r.case.dims)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}</sub>`;
    if (r.status !== 'ok') {
      lines.push(`| ${label} | ${r.case.steps} | error: ${(r.reason ?? '').replace(/\|/g, '\\|')} | | | | | | | | |`);
      continue;
    }
    const d = r.report!;
    const w = d.step_wall_ms;
    const k = d.step_kernel_ms.median;
    const host = d.host_step_wall_ms?.median;
    lines.push(
      `| ${label} | ${d.steps} | ${fmt(w.median)} (${fmt(w.p25)}–${fmt(w.p75)}) | ${fmt(d.step_latency_ms.median)} | ${fmt(k)} | ${w.median <= 1.5 * k + 1 ? 'yes' : '**no**'} | ${fmt(host)} | ${fmt(host === undefined ? undefined : host / w.median)} | ${fmt(r.ortWebgpuMs)} | ${fmt(r.ortWebgpuMs === undefined ? undefined : r.ortWebgpuMs / w.median)} | ${d.max_abs_err === null ? '–' : d.max_abs_err.toExponential(1)} |`,
    );
  }
  return lines;
}
