/**
 * Softmax kernels: one invocation per row, three passes over the row (max, sum,
 * write) recomputing the inlined logits instead of storing them. Entries whose
 * mask is false or whose logit is -inf get weight exactly 0; a row with none left
 * is all zeros; a sink logit joins the max and the denominator only.
 */
import type { Node } from '../../ir/index.ts';
import type { SizeExpr } from '../../runtime/plan.ts';
import { axisVar, NEG_INF, Scope, type BufferRef } from '../wgsl.ts';
import { indent, WORKGROUP, type KernelBuilder } from './frame.ts';

type Core = Extract<Node, { op: 'softmax' }>;

/** The WGSL and dispatch size of a softmax kernel computing `root` (around `core`) into `out`. */
export function softmaxKernel(kb: KernelBuilder, name: string, header: string[], root: Node, core: Core, out: BufferRef) {
  const rowAxes = root.axes.filter((a) => a !== core.axis);
  const env = Object.fromEntries(root.axes.map((a) => [a, axisVar(a)]));
  const body = kb.decomposeAxes(rowAxes, kb.gid);
  const main = new Scope(kb, kb.counter);
  const mx = kb.internal('row_max');
  const sum = kb.internal('row_sum');
  const sink = core.sink ? main.value(core.sink, env) : undefined;
  const t = axisVar(core.axis);
  const loop = `for (var ${t}: u32 = 0u; ${t} < ${kb.size(core.axis)}; ${t}++) {`;
  const pass = (use: (x: string, live: string, s: Scope) => string[]): string[] => {
    const s = main.child({ hoist: (n) => !n.axes.includes(core.axis), loopVars: [t] });
    const x = s.value(core.x, env);
    const liveExpr = core.mask ? `${s.value(core.mask, env)} && ${x} != ${NEG_INF}` : `${x} != ${NEG_INF}`;
    const live = kb.internal(`live${kb.counter.n++}`);
    s.lines.push(`let ${live} = ${liveExpr};`);
    const tail = use(x, live, s);
    return [loop, ...indent([...s.lines, ...tail], 1), '}'];
  };
  const maxPass = pass((x, live) => [`if (${live}) { ${mx} = max(${mx}, ${x}); }`]);
  const sumPass = pass((x, live) => [`if (${live}) { ${sum} += exp(${x} - ${mx}); }`]);
  const writePass = pass((x, live, s) => {
      const p = kb.internal(`p${kb.counter.n++}`);
      const lines = [`let ${p} = select(0.0, exp(${x} - ${mx}) / ${sum}, ${live});`];
      const epi = s.child({ override: (n) => (n === core ? p : undefined) });
      const v = epi.value(root, env);
      return [...lines, ...epi.lines, kb.store(out, env, v)];
  });
  // main.lines last: the passes hoisted their row-invariant values into it
  body.push(
    ...main.lines,
    `var ${mx}: f32 = ${sink ?? NEG_INF};`, ...maxPass,
    `var ${sum}: f32 = ${sink ? `exp(${sink} - ${mx})` : '0.0'};`, ...sumPass,
    ...writePass,
  );
  const total = kb.count(rowAxes);
  const schedule = `schedule: one invocation per row of '${core.axis}', three passes (max, sum, write), ${WORKGROUP} per workgroup`;
  const wgsl = kb.module({ name, header: [...header, schedule], out, total, body });
  const workgroups: SizeExpr = ['cdiv', ['*', 1, ...rowAxes], WORKGROUP];
  return { wgsl, workgroups };
}
