/** Human-readable summaries of what a graph became. */
import type { ExecPlan, SizeExpr } from '../runtime/plan.ts';

function fmt(e: SizeExpr): string {
  if (typeof e === 'number' || typeof e === 'string') return String(e);
  const [op, ...args] = e;
  if (op === '*' || op === '+') return args.map(fmt).join(` ${op} `);
  return `${op}(${args.map(fmt).join(', ')})`;
}

/**
 * Describes a plan: its sizes, buffers, and each kernel's header (what it computes
 * and its schedule).
 * @example console.log(explain(lower(mha())))
 */
export function explain(plan: ExecPlan): string {
  const lines = [`plan '${plan.name}': ${plan.kernels.length} kernel${plan.kernels.length === 1 ? '' : 's'}`];
  const stat = Object.entries(plan.staticSizes).map(([k, v]) => `${k}=${v}`);
  lines.push(`  sizes: given ${plan.dynamicSizes.join(' ') || '-'}${stat.length ? `; fixed ${stat.join(' ')}` : ''}`);
  for (const d of plan.derivedSizes) lines.push(`  derived: ${d.name} = ${fmt(d.expr)}`);
  for (const b of plan.buffers) lines.push(`  ${b.role.padEnd(6)} ${b.name}: ${b.dtype}[${b.axes.join(' ')}]`);
  plan.kernels.forEach((k, i) => {
    const header = k.wgsl.split('\n').filter((l) => l.startsWith('// ')).slice(1).map((l) => l.slice(3));
    lines.push(`  kernel ${i + 1} ${k.name}:`);
    for (const h of header) lines.push(`    ${h}`);
  });
  return lines.join('\n');
}
