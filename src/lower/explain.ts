/** Human-readable summaries of what a graph became. */
import type { ExecPlan, SizeExpr } from '../runtime/plan.ts';

function fmt(e: SizeExpr): string {
  if (typeof e === 'number' || typeof e === 'string') return String(e);
  const [op, ...args] = e;
  if (op === '*' || op === '+') return args.map(fmt).join(` ${op} `);
  return `${op}(${args.map(fmt).join(', ')})`;
}

/**
 * Describes a plan: its sizes, buffers, each kernel's description (what it computes and its
 * schedule, from the plan's `about`, never from the WGSL text) and what was not fused: every
 * temporary holding a query axis and a key axis, with why, and the flash matcher's misses.
 * @example console.log(explain(lower(mha())))
 */
export function explain(plan: ExecPlan): string {
  const lines = [`plan '${plan.name}': ${plan.kernels.length} kernel${plan.kernels.length === 1 ? '' : 's'}`];
  const stat = Object.entries(plan.staticSizes).map(([k, v]) => `${k}=${v}`);
  lines.push(`  sizes: given ${plan.dynamicSizes.join(' ') || '-'}${stat.length ? `; fixed ${stat.join(' ')}` : ''}`);
  for (const d of plan.derivedSizes) lines.push(`  derived: ${d.name} = ${fmt(d.expr)}`);
  for (const b of plan.buffers) lines.push(`  ${b.role.padEnd(6)} ${b.name}: ${b.dtype}[${b.axes.join(' ')}]`);
  plan.kernels.forEach((k, i) => {
    lines.push(`  kernel ${i + 1} ${k.name}:`);
    for (const h of k.about ? [...k.about.computes, k.about.schedule].filter(Boolean) : []) lines.push(`    ${h}`);
  });
  lines.push(...unfusedLines(plan));
  return lines.join('\n');
}

/** The `not fused:` section of {@link explain}: query × key temporaries with their reasons, then misses no temporary names. */
function unfusedLines(plan: ExecPlan): string[] {
  const u = plan.unfused;
  if (!u) return [];
  const lines = ['  not fused:'];
  for (const t of u.temps) {
    const b = plan.buffers.find((x) => x.name === t.buffer);
    lines.push(`    temporary ${t.buffer}${b ? `: ${b.dtype}[${b.axes.join(' ')}]` : ''} holds query axis ${t.query.join(' ')} and key axis ${t.key}:`);
    for (const r of t.reasons) lines.push(`      ${r}`);
  }
  const told = new Set(u.temps.flatMap((t) => t.reasons));
  for (const m of u.misses) if (!told.has(`${m.expr}: ${m.reason}`)) lines.push(`    ${m.expr} was not fused: ${m.reason}`);
  return lines;
}
