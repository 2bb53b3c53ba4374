/** The parts every generated kernel shares: header, bindings, uniforms, entry point. */
import { fail } from '../../errors.ts';
import { staticSize } from '../../ir/index.ts';
import { STORAGE } from '../../runtime/dtypes.ts';
import type { KernelAbout, PlanFeature, PlanKernel, SizeExpr } from '../../runtime/plan.ts';
import {
  add,
  bytesOf,
  callsIn,
  chain,
  div,
  eachExpr,
  field,
  flt,
  ge,
  if_,
  index,
  inline,
  let_,
  mod,
  mul,
  par,
  set,
  u,
  v,
  var_,
  type Expr,
  type Stmt,
  type Ty,
} from '../../kir/ir.ts';
import { cleanup } from '../../kir/passes.ts';
import { renderModule } from '../../kir/render.ts';
import {
  axisVar,
  HELPER_CALLS,
  HELPERS,
  internalName,
  offset,
  product,
  storeEnv,
  type BufferRef,
  type ComputeType,
  type Env,
  type Helper,
  type KernelContext,
} from '../wgsl.ts';

/** WGSL extensions a kernel may enable besides f16, and the WebGPU feature each needs. */
type Extension = 'subgroups';
const FEATURE_OF: Record<Extension, PlanFeature> = { subgroups: 'subgroups' };

/** Invocations per workgroup of the generic kernels (a multiple of every subgroup size seen). */
export const WORKGROUP = 64;

/** A kernel being built: tracks the sizes, buffers and helpers its body uses. */
export class KernelBuilder implements KernelContext {
  readonly reads: BufferRef[] = [];
  readonly uniforms: string[] = [];
  readonly counter = { n: 0 };
  f16 = false;
  /** the linear invocation index, declared by the entry point */
  get gid(): Expr {
    return v(this.internal('gid'));
  }

  constructor(
    private readonly staticSizes: Readonly<Record<string, number>>,
    private readonly buffers: ReadonlyMap<number, BufferRef>,
    /** every axis of the graph: internal names must differ from their variables */
    private readonly axes: ReadonlySet<string>,
    /** the arithmetic type of einsum products (accumulation is always f32) */
    readonly compute: ComputeType = 'f32',
  ) {}

  /**
   * The product of one side's operand values, kept for a later product (a cached query row, a
   * K value, a workgroup-memory tile): rounded to f16 under f16 compute, else the f32 product.
   */
  sideProduct(terms: readonly Expr[]): Expr {
    return this.compute === 'f16' ? { k: 'call', fn: 'f16', args: [this.product(terms)] } : chain('*', terms, flt(1));
  }

  /** The product of einsum operand values in this kernel's compute type, as an f32 expression. */
  product(terms: readonly Expr[]): Expr {
    if (this.compute === 'f16') this.f16 = true;
    return product(terms, this.compute);
  }

  // Fixed words (tile rows `v0`, accumulators `acc00`) and `let`s (`<tensor><counter>`) can spell
  // the same name, e.g. a tile row of an axis 'v' and the third value: every name is claimed once.
  private readonly claimed = new Map<string, string>();
  private readonly taken = new Set<string>();

  internal(word: string): string {
    let name = this.claimed.get(word);
    if (name !== undefined) return name;
    name = internalName(this.axes, word);
    while (this.taken.has(name)) name += '_';
    this.claimed.set(word, name);
    this.taken.add(name);
    return name;
  }

  fresh(word: string): string {
    let name = internalName(this.axes, word);
    while (this.taken.has(name)) name += '_';
    this.taken.add(name);
    return name;
  }

  size(name: string): Expr {
    const s = staticSize(this.staticSizes, name);
    if (s !== undefined) return u(s);
    if (!this.uniforms.includes(name)) this.uniforms.push(name);
    return field(v(this.internal('sz')), name);
  }

  buffer(n: { id: number }): BufferRef | undefined {
    return this.buffers.get(n.id);
  }

  read(b: BufferRef): void {
    if (!this.reads.includes(b)) this.reads.push(b);
    if (STORAGE[b.dtype].feature === 'shader-f16') this.f16 = true;
  }

  /** `out[offset] = value;` with the f16 narrowing when needed (i8 outputs are packed by the pointwise kernel). */
  store(out: BufferRef, env: Env, value: Expr): Stmt {
    const s = STORAGE[out.dtype];
    if (s.packing > 1) fail('LOWERING', `internal: ${out.dtype} output '${out.name}' must be written whole words at a time by an elementwise kernel`);
    if (s.feature === 'shader-f16') this.f16 = true;
    // a value computed in a wider type is narrowed to the buffer's (f32 → f16)
    const at = out.views ? storeEnv(out.views, env, this) : env;
    return set(index(v(out.ident), offset(out, at, this)), s.wgsl !== s.compute ? { k: 'call', fn: s.wgsl, args: [value] } : value);
  }

  /** The product of the sizes of `axes` as a u32 expression. */
  count(axes: readonly string[]): Expr {
    return chain(
      '*',
      axes.map((a) => this.size(a)),
      u(1),
    );
  }

  /**
   * Statements that split the linear index `from` into one variable per part (the last
   * part varies fastest): `parts` are [variable, extent] pairs; `rest` names the
   * running quotient (distinct names let decompositions nest).
   */
  decompose(parts: readonly (readonly [string, Expr])[], from: Expr, rest: string = this.internal('rest')): Stmt[] {
    if (parts.length === 0) return [];
    if (parts.length === 1) return [let_(parts[0]![0], from)];
    const r = v(rest);
    const out: Stmt[] = [var_(rest, undefined, from)];
    for (let i = parts.length - 1; i > 0; i--) {
      const [name, n] = parts[i]!;
      out.push(let_(name, mod(r, n)), set(r, div(r, n)));
    }
    out.push(let_(parts[0]![0], r));
    return out;
  }

  /** `decompose` over axes, declaring the axis variables `_<axis>`. */
  decomposeAxes(axes: readonly string[], from: Expr): Stmt[] {
    return this.decompose(
      axes.map((a) => [axisVar(a), this.size(a)] as const),
      from,
    );
  }

  /** bytes of `var<workgroup>` memory the module declares (set by {@link module}) */
  workgroupBytes = 0;
  /** what the module computes, from its header (set by {@link module}): the plan kernel's `about` */
  about: KernelAbout | undefined;
  /** WGSL extensions the module enables besides f16 (set by {@link module}) */
  private enabled: readonly Extension[] = [];

  /** The optional WebGPU features the module needs: its f16 types and the extensions it enables. */
  get features(): PlanFeature[] {
    return [...(this.f16 ? ['shader-f16' as const] : []), ...this.enabled.map((e) => FEATURE_OF[e])];
  }

  /** The whole WGSL module: the body cleaned up (kir/passes.ts) and rendered with its declarations (kir/render.ts). */
  module(p: {
    name: string;
    header: string[];
    out: BufferRef | readonly BufferRef[];
    total: Expr;
    body: readonly Stmt[];
    /** invocations per workgroup; default {@link WORKGROUP} */
    workgroupSize?: number;
    /** `total` counts workgroups, not invocations: the body sees `internal('wg')` and `internal('lid')` */
    perWorkgroup?: boolean;
    /** module-scope `var<workgroup>` variables */
    shared?: readonly { name: string; ty: Ty }[];
    /** WGSL extensions besides f16 (which the builder enables itself), e.g. 'subgroups' */
    enables?: readonly Extension[];
  }): string {
    // the header is [title, what it computes…, schedule]: the plan kernel carries it as data for explain()
    this.about = { title: p.header[0] ?? p.name, computes: p.header.slice(1, -1), schedule: p.header.length > 1 ? p.header.at(-1)! : '' };
    this.enabled = p.enables ?? [];
    const outs: readonly BufferRef[] = Array.isArray(p.out) ? p.out : [p.out as BufferRef];
    const size = p.workgroupSize ?? WORKGROUP;
    const [wid, nwg, lid] = [this.internal('wid'), this.internal('nwg'), this.internal('lid')];
    const wg = this.internal('wg');
    // the workgroup's linear index: the runtime spreads large 1-D counts over x, y and z
    const [w, n] = [v(wid), v(nwg)];
    const linear = add(field(w, 'x'), mul(par(add(field(w, 'y'), mul(field(w, 'z'), field(n, 'y')))), field(n, 'x')));
    const entry: Stmt[] = p.perWorkgroup
      ? [let_(wg, linear), inline(if_(ge(v(wg), p.total), [{ k: 'return' }]))]
      : [let_(this.internal('gid'), add(mul(par(linear), u(size)), v(lid))), inline(if_(ge(this.gid, p.total), [{ k: 'return' }]))];
    const shared = p.shared ?? [];
    this.workgroupBytes = shared.reduce((sum, x) => sum + bytesOf(x.ty), 0);
    return renderModule({
      header: p.header,
      enables: [...(this.f16 ? ['f16'] : []), ...(p.enables ?? [])],
      // the buffer's WGSL element type (i8 lives four to an i32 word)
      buffers: [...this.reads, ...outs].map((b, i) => ({
        name: b.ident,
        access: i >= this.reads.length ? 'read_write' : 'read',
        element: STORAGE[b.dtype].wgsl,
      })),
      uniforms: { fields: this.uniforms, name: this.internal('sz') },
      workgroup: shared,
      helpers: helpersCalled(p.body, [p.total]).map((h) => HELPERS[h]),
      entry: {
        name: p.name,
        workgroupSize: size,
        params: [
          { builtin: 'workgroup_id', name: wid, ty: 'vec3u' },
          { builtin: 'num_workgroups', name: nwg, ty: 'vec3u' },
          { builtin: 'local_invocation_index', name: lid, ty: 'u32' },
        ],
        body: cleanup([...entry, ...p.body]),
      },
    });
  }
}

/** A plan kernel from a finished builder: reads, then the outputs, as bindings. */
export function planKernel(kb: KernelBuilder, name: string, wgsl: string, size: number, workgroups: SizeExpr, outs: readonly BufferRef[]): PlanKernel {
  return {
    name,
    wgsl,
    workgroupSize: [size, 1, 1],
    workgroups,
    bindings: [...kb.reads.map((b) => ({ buffer: b.name, access: 'read' as const })), ...outs.map((b) => ({ buffer: b.name, access: 'read_write' as const }))],
    uniforms: [...kb.uniforms],
    workgroupStorageBytes: kb.workgroupBytes,
    ...(kb.features.length ? { features: kb.features } : {}),
    ...(kb.about ? { about: kb.about } : {}),
  };
}

/** The helpers `stmts` (and `exprs`) call, with the helpers those call, in name order. */
export function helpersCalled(stmts: readonly Stmt[], exprs: readonly Expr[] = []): Helper[] {
  const calls = new Set<string>();
  eachExpr(stmts, (e) => callsIn(e, calls));
  for (const e of exprs) callsIn(e, calls);
  const found = new Set<Helper>();
  const visit = (h: Helper) => {
    if (found.has(h)) return;
    found.add(h);
    for (const d of HELPER_CALLS[h]) visit(d);
  };
  for (const c of calls) if (c in HELPERS) visit(c as Helper);
  return [...found].sort();
}
