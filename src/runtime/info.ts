/** What `einattn info` prints: which adapter was chosen, why, and what it can do. */
import { LIMIT_NAMES, type Runtime } from './device.ts';

/** A plain, JSON-serialisable description of a runtime's adapter and device. */
export interface AdapterReport {
  kind: Runtime['kind'];
  reason: string;
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** 'vulkan', 'metal', 'd3d12' or 'opengles' */
  backend: string;
  /** the optional features the device was created with, sorted */
  features: string[];
  /** the limits plans are checked against */
  limits: Record<string, number>;
}

/**
 * Describes a runtime's adapter as plain data (for `einattn info --json` and benchmarks).
 * @example adapterReport(await getRuntime()).kind // 'software'
 */
export function adapterReport(rt: Runtime): AdapterReport {
  const limits: Record<string, number> = {};
  for (const name of LIMIT_NAMES) limits[name] = rt.limits[name];
  return {
    kind: rt.kind,
    reason: rt.reason,
    vendor: rt.info.vendor,
    architecture: rt.info.architecture,
    device: rt.info.device,
    description: rt.info.description,
    backend: rt.backend,
    features: [...rt.features].sort(),
    limits,
  };
}

/**
 * The identity caches are keyed by (measured rooflines, tuned schedules): kind, name, backend.
 * @example adapterId({ kind: 'software', backend: 'vulkan', info: { description: 'llvmpipe (LLVM 19.1.7, 256 bits)' } } as Runtime) // 'software llvmpipe (LLVM 19.1.7, 256 bits) (vulkan)'
 */
export function adapterId(rt: Runtime): string {
  return `${rt.kind} ${rt.info.description || rt.info.device} (${rt.backend})`;
}

function bytesText(n: number): string {
  for (const [unit, size] of [
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
    ['KiB', 2 ** 10],
  ] as const) {
    if (n >= size) return `${+(n / size).toFixed(2)} ${unit}`;
  }
  return `${n} B`;
}

/**
 * Formats a report as readable text, one fact per line.
 * @example console.log(formatInfo(adapterReport(await getRuntime())))
 */
export function formatInfo(report: AdapterReport): string {
  const field = (k: string, v: string) => `${(k + ':').padEnd(14)}${v || '(not reported)'}`;
  const width = Math.max(...Object.keys(report.limits).map((k) => k.length));
  const limitLines = Object.entries(report.limits).map(([k, v]) => {
    const bytes = /Size$/.test(k) && v >= 1024 ? ` (${bytesText(v)})` : '';
    return `  ${k.padEnd(width)}  ${v}${bytes}`;
  });
  return [
    field('adapter', `${report.kind} (${report.reason})`),
    field('backend', report.backend),
    field('vendor', report.vendor),
    field('architecture', report.architecture),
    field('device', report.device),
    field('description', report.description),
    field('features', report.features.join(', ') || 'none of shader-f16, timestamp-query, subgroups'),
    'limits:',
    ...limitLines,
  ].join('\n');
}
