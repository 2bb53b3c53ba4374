/** The bench's results as a markdown report: machine, limits, one table per row, targets. */
import { dimsLabel } from './cases.ts';
import { decodeStepMarkdown } from './decode.ts';
import { fmt, pct } from './format.ts';
import type { BenchResult, BenchRow, SystemName } from './run.ts';

const PEERS: SystemName[] = ['ort-webgpu', 'ort-cpu'];

/**
 * The wall-time ratio peer / row (above 1: the row is faster), or undefined.
 * @example const row = { case: 'mha', system: 'einattn', status: 'ok', wall: { median: 1 } } as BenchRow; speedup([row, { ...row, system: 'ort-webgpu', wall: { median: 1.8 } } as BenchRow], row, 'ort-webgpu') // 1.8
 */
export function speedup(rows: readonly BenchRow[], row: BenchRow, peer: SystemName): number | undefined {
  const p = rows.find((r) => r.case === row.case && r.system === peer && r.status === 'ok');
  if (!p?.wall || !row.wall) return undefined;
  // interleaved calls: the median of the paired ratios, which drift of the machine does not bias
  return row.paired?.[peer] ?? p.wall.median / row.wall.median;
}

/** A row's GPU memory and largest temporary, `8.00 (0.500)` in MiB; undefined when not measured. */
const gpuMiB = (r?: BenchRow): string | undefined => (r?.gpu ? `${fmt(r.gpu.bytes / 2 ** 20)} (${fmt(r.gpu.largestTemp / 2 ** 20)})` : undefined);

/** Whether a row's timings spread too much to trust: IQR above 20% of the median. */
export const noisy = (r: BenchRow): boolean => !!r.wall && (r.wall.p75 - r.wall.p25) / r.wall.median > 0.2;

/** One of issue 7's targets, evaluated on a result. */
export interface Target {
  what: string;
  goal: number;
  /** the measured value per row it applies to */
  measured: { case: string; value: number }[];
  met: boolean;
}

/**
 * Issue 7's targets (speed-ups as wall-time ratios in the same run; roofline fractions from kernel time).
 * @example targets(result).every((t) => t.met)
 */
export function targets(result: BenchResult): Target[] {
  const fused = result.rows.filter((r) => r.system === 'einattn' && r.status === 'ok');
  const make = (what: string, goal: number, pick: (r: BenchRow) => boolean, value: (r: BenchRow) => number | undefined): Target => {
    const measured = fused.filter(pick).flatMap((r) => {
      const v = value(r);
      return v === undefined ? [] : [{ case: r.case, value: v }];
    });
    return { what, goal, measured, met: measured.length > 0 && measured.every((m) => m.value >= goal) };
  };
  const gflopsFrac = (r: BenchRow) => (r.gflops === undefined ? undefined : r.gflops / result.roofline.gflops);
  // decoding reads a cache and writes little: its bound is the streaming-read microkernel
  const gbpsFrac = (r: BenchRow) => (r.gbps === undefined ? undefined : r.gbps / (result.roofline.readGbps ?? result.roofline.gbps));
  return [
    make(
      'MHA prefill s=t=1024: speed-up over ORT WebGPU',
      1.5,
      (r) => r.variant === 'mha' && r.dims.s === 1024,
      (r) => speedup(result.rows, r, 'ort-webgpu'),
    ),
    make(
      'GQA decode: speed-up over ORT WebGPU',
      1.2,
      (r) => r.variant === 'gqa' && r.kind === 'decode',
      (r) => speedup(result.rows, r, 'ort-webgpu'),
    ),
    make('MHA prefill: fraction of the measured FMA roofline (GFLOP/s)', 0.5, (r) => r.kind === 'prefill' && r.variant === 'mha', gflopsFrac),
    make('decode: fraction of the measured read bandwidth (GB/s)', 0.6, (r) => r.kind === 'decode', gbpsFrac),
  ];
}

/**
 * The markdown report of a run.
 * @example writeFileSync('bench/results/x.md', benchMarkdown(result, 'npm run bench'))
 */
export function benchMarkdown(result: BenchResult, command: string): string {
  const { machine: m, adapter: a, roofline: rf } = result;
  const lines = [
    `# einattn benchmark: ${a.description}`,
    '',
    `- command: \`${command}\``,
    `- date: ${result.date}`,
    `- machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}`,
    `- adapter: ${a.id}`,
    `- measured roofline: **${fmt(rf.gflops)} GFLOP/s** (FMA microkernel), **${fmt(rf.readGbps)} GB/s read** (streaming-read microkernel), **${fmt(rf.gbps)} GB/s** (copy microkernel, read + written); ${rf.method}`,
    '- each row\'s "roofline" is the fraction of its own bound: FLOPs at the FMA rate, or bytes read at the streaming-read rate plus bytes written at the copy rate, whichever takes longer; a row above 105% is marked ⚠ (its bound is not a bound)',
    `- each row: one warm-up, then ${result.repeat} timed calls (the interpreter at most 3); median and interquartile range`,
    '',
    '"wall ms" is the time of one call as a user sees it (upload, kernels, readback) and is what the speed-ups compare;',
    'within a row the systems\' timed calls are interleaved (A B C A B C …, the order rotating), and each "×" speed-up is the median of the',
    'ratios of paired calls, so drift of a shared machine hits every system alike; "⚠ noisy" marks an IQR above 20% of the median.',
    '"kernel ms" is einattn\'s GPU time from timestamp queries. GFLOP/s, GB/s and "roofline" use kernel time for einattn and wall',
    'time for the others; GB/s counts the bytes a fused kernel must move (inputs and outputs once). "×ort" columns: peer wall time / row wall time.',
    '"GPU MiB" is what einattn\'s plan allocates at these sizes (inputs, outputs and temporaries), with its largest temporary buffer in brackets.',
    '',
  ];
  const cases = [...new Set(result.rows.map((r) => r.case))];
  lines.push(`| row | system | wall ms (IQR) | kernel ms | GFLOP/s | GB/s | roofline | ×ort-webgpu | ×ort-cpu | GPU MiB (largest temp) | max abs diff |`);
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const id of cases) {
    for (const r of result.rows.filter((x) => x.case === id)) {
      const label = `${id}<br><sub>${dimsLabel(r.dims)}</sub>`;
      if (r.status !== 'ok') {
        lines.push(`| ${label} | ${r.system} | ${r.status}: ${(r.reason ?? '').replace(/\|/g, '\\|')} | | | | | | | | |`);
        continue;
      }
      const w = r.wall!;
      const ratios = PEERS.map((p) => (r.system.startsWith('einattn') ? fmt(speedup(result.rows, r, p), 2) : ''));
      lines.push(
        `| ${label} | ${r.system}${r.note ? ' ¹' : ''} | ${fmt(w.median)} (${fmt(w.p25)}–${fmt(w.p75)})${noisy(r) ? ' ⚠ noisy' : ''} | ${fmt(r.kernel?.median)} | ${fmt(r.gflops)} | ${fmt(r.gbps)} | ${pct(r.rooflineFraction)}${(r.rooflineFraction ?? 0) > 1.05 ? ' ⚠' : ''} | ${ratios.join(' | ')} | ${gpuMiB(r) ?? ''} | ${r.maxAbsDiff === undefined ? 'reference' : r.maxAbsDiff.toExponential(1)} |`,
      );
    }
  }
  const notes = [...new Set(result.rows.flatMap((r) => (r.note ? [`${r.system} on ${r.variant}: ${r.note}`] : [])))];
  if (notes.length) lines.push('', ...notes.map((n) => `¹ ${n}`));
  lines.push('', '## Targets', '', '| target | goal | measured | met |', '|---|---:|---|---|');
  for (const t of targets(result))
    lines.push(
      `| ${t.what} | ${t.goal} | ${t.measured.map((x) => `${x.case}: ${x.value.toFixed(2)}`).join('; ') || 'not measured'} | ${t.measured.length ? (t.met ? 'yes' : '**no**') : '–'} |`,
    );
  lines.push(...zooMarkdown(result.rows));
  lines.push(...decodeStepMarkdown(result.decodeSteps ?? []));
  const sched = result.rows.filter((r) => r.system === 'einattn' && r.schedule);
  if (sched.length) {
    lines.push('', '## einattn schedules', '');
    for (const r of sched)
      lines.push(`- ${r.case}: ${r.schedule!.source}${Object.keys(r.schedule!.values).length ? ` ${JSON.stringify(r.schedule!.values)}` : ''}`);
  }
  return lines.join('\n') + '\n';
}

/** What issue 21 expects of a fused zoo variant's kernel time, in units of causal MHA's at the same sizes. */
const ZOO_EXPECTED: Record<string, string> = { diff: '≈ 2 (two score products)', sigmoid: '≈ 1', moba: '< 1 (sparse)' };

/**
 * The zoo's rows next to causal MHA at the same sizes: kernel time fused and unfused, GPU memory,
 * and the fused kernel time over MHA's.
 * @example zooMarkdown([]) // []
 */
export function zooMarkdown(rows: readonly BenchRow[]): string[] {
  const ok = (r: BenchRow) => r.status === 'ok' && r.kernel;
  const zoo = rows.filter((r) => r.variant in ZOO_EXPECTED && r.system === 'einattn' && ok(r));
  if (!zoo.length) return [];
  const out = [
    '',
    '### The zoo next to MHA',
    '',
    'Kernel time of each zoo variant (issue 21), fused and unfused, beside causal MHA at the same b, h, s, t and head dims',
    '(same run). "GPU MiB" is what the plan allocates, with its largest temporary in brackets.',
    '',
    '| row | fused kernel ms (IQR) | unfused kernel ms | GPU MiB fused | GPU MiB unfused | fused ÷ causal MHA | expected |',
    '|---|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of zoo) {
    const same = (x: BenchRow) => ['b', 'h', 's', 't', 'd', 'dv'].every((k) => x.dims[k] === r.dims[k]);
    const mha = rows.find((x) => x.variant === 'mha' && x.opts.causal === true && x.system === 'einattn' && ok(x) && same(x));
    const unfused = rows.find((x) => x.case === r.case && x.system === 'einattn-unfused' && ok(x));
    const k = r.kernel!;
    out.push(
      `| ${r.case} | ${fmt(k.median)} (${fmt(k.p25)}–${fmt(k.p75)}) | ${unfused ? fmt(unfused.kernel!.median) : '–'} | ${gpuMiB(r) ?? '–'} | ${gpuMiB(unfused) ?? '–'} | ${mha ? fmt(k.median / mha.kernel!.median) : 'no MHA row'} | ${ZOO_EXPECTED[r.variant]} |`,
    );
  }
  return out;
}
