/** The parts every generated kernel shares: header, bindings, uniforms, entry point. */
import { fail } from '../../errors.ts';
import { staticSize } from '../../ir/index.ts';
import { axisVar, HELPERS, internalName, offset, product, type BufferRef, type ComputeType, type Env, type KernelContext } from '../wgsl.ts';

/** Invocations per workgroup of the generic kernels (a multiple of every subgroup size seen). */
export const WORKGROUP = 64;

/** A kernel being built: tracks the sizes, buffers and helpers its body uses. */
export class KernelBuilder implements KernelContext {
  readonly reads: BufferRef[] = [];
  readonly uniforms: string[] = [];
  readonly helpers = new Set<string>();
  readonly counter = { n: 0 };
  f16 = false;
  /** the linear invocation index, declared by the entry point */
  get gid(): string {
    return this.internal('gid');
  }

  constructor(
    private readonly staticSizes: Readonly<Record<string, number>>,
    private readonly buffers: ReadonlyMap<number, BufferRef>,
    /** every axis of the graph: internal names must differ from their variables */
    private readonly axes: ReadonlySet<string>,
    /** the arithmetic type of einsum products (accumulation is always f32) */
    readonly compute: ComputeType = 'f32',
  ) {}

  /** The product of einsum operand values in this kernel's compute type, as an f32 expression. */
  product(terms: readonly string[]): string {
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

  size(name: string): string {
    const v = staticSize(this.staticSizes, name);
    if (v !== undefined) return `${v}u`;
    if (!this.uniforms.includes(name)) this.uniforms.push(name);
    return `${this.internal('sz')}.${name}`;
  }

  buffer(n: { id: number }): BufferRef | undefined {
    return this.buffers.get(n.id);
  }

  read(b: BufferRef): void {
    if (!this.reads.includes(b)) this.reads.push(b);
    if (b.dtype === 'f16') this.f16 = true;
  }

  helper(name: keyof typeof HELPERS): void {
    this.helpers.add(name);
  }

  /** `out[offset] = value;` with the f16 narrowing when needed (i8 outputs are packed by the pointwise kernel). */
  store(out: BufferRef, env: Env, value: string): string {
    if (out.dtype === 'i8') fail('LOWERING', `internal: i8 output '${out.name}' must be written whole words at a time by an elementwise kernel`);
    if (out.dtype === 'f16') this.f16 = true;
    return `${out.ident}[${offset(out, env, this)}] = ${out.dtype === 'f16' ? `f16(${value})` : value};`;
  }

  /** The product of the sizes of `axes` as a u32 expression. */
  count(axes: readonly string[]): string {
    return axes.length ? axes.map((a) => this.size(a)).join(' * ') : '1u';
  }

  /**
   * Lines that split the linear index `from` into one variable per part (the last
   * part varies fastest): `parts` are [variable, extent] pairs; `rest` names the
   * running quotient (distinct names let decompositions nest).
   */
  decompose(parts: readonly (readonly [string, string])[], from: string, rest: string = this.internal('rest')): string[] {
    if (parts.length === 0) return [];
    if (parts.length === 1) return [`let ${parts[0]![0]} = ${from};`];
    const lines = [`var ${rest} = ${from};`];
    for (let i = parts.length - 1; i > 0; i--) {
      const v = parts[i]![0];
      const n = grouped(parts[i]![1]); // an extent `a * b` must divide as a whole
      lines.push(`let ${v} = ${rest} % ${n};`, `${rest} = ${rest} / ${n};`);
    }
    lines.push(`let ${parts[0]![0]} = ${rest};`);
    return lines;
  }

  /** `decompose` over axes, declaring the axis variables `_<axis>`. */
  decomposeAxes(axes: readonly string[], from: string): string[] {
    return this.decompose(axes.map((a) => [axisVar(a), this.size(a)] as const), from);
  }

  /** The whole WGSL module. */
  module(p: {
    name: string; header: string[]; out: BufferRef | readonly BufferRef[]; total: string; body: string[];
    /** invocations per workgroup; default {@link WORKGROUP} */
    workgroupSize?: number;
    /** `total` counts workgroups, not invocations: the body sees `internal('wg')` and `internal('lid')` */
    perWorkgroup?: boolean;
    /** module-scope `var<workgroup>` declarations */
    shared?: readonly string[];
    /** WGSL extensions besides f16 (which the builder enables itself), e.g. 'subgroups' */
    enables?: readonly string[];
  }): string {
    const outs: readonly BufferRef[] = Array.isArray(p.out) ? p.out : [p.out as BufferRef];
    const size = p.workgroupSize ?? WORKGROUP;
    const [wid, nwg, lid] = [this.internal('wid'), this.internal('nwg'), this.internal('lid')];
    // i8 lives four to an i32 word
    const ty = (b: BufferRef) => (b.dtype === 'i32' || b.dtype === 'i8' ? 'i32' : b.dtype);
    const decls = [...this.reads, ...outs].map(
      (b, i) => `@group(0) @binding(${i}) var<storage, ${i >= this.reads.length ? 'read_write' : 'read'}> ${b.ident}: array<${ty(b)}>;`,
    );
    const lines = [...p.header.map((h) => `// ${h}`)];
    if (this.f16) lines.push('enable f16;');
    for (const e of p.enables ?? []) lines.push(`enable ${e};`);
    lines.push('');
    if (this.uniforms.length) {
      lines.push(`struct _Sizes { ${this.uniforms.map((u) => `${u}: u32`).join(', ')} }`);
      decls.push(`@group(0) @binding(${decls.length}) var<uniform> ${this.internal('sz')}: _Sizes;`);
    }
    lines.push(...decls, '', ...(p.shared?.length ? [...p.shared, ''] : []));
    const text = [...p.body, p.total].join('\n') + [...this.helpers].map((h) => HELPERS[h]).join('\n');
    for (const h of Object.keys(HELPERS)) if (text.includes(`${h}(`)) this.helpers.add(h);
    for (const h of [...this.helpers].sort()) lines.push(HELPERS[h]!, '');
    const wg = this.internal('wg');
    lines.push(
      `@compute @workgroup_size(${size})`,
      `fn ${p.name}(@builtin(workgroup_id) ${wid}: vec3u, @builtin(num_workgroups) ${nwg}: vec3u, @builtin(local_invocation_index) ${lid}: u32) {`,
      ...(p.perWorkgroup
        ? [`  let ${wg} = ${wid}.x + (${wid}.y + ${wid}.z * ${nwg}.y) * ${nwg}.x;`, `  if (${wg} >= ${p.total}) { return; }`]
        : [
            `  let ${this.gid} = (${wid}.x + (${wid}.y + ${wid}.z * ${nwg}.y) * ${nwg}.x) * ${size}u + ${lid};`,
            `  if (${this.gid} >= ${p.total}) { return; }`,
          ]),
      ...indent(p.body, 1),
      '}',
      '',
    );
    return lines.join('\n');
  }
}

/** `e` as one operand: unchanged when it is a name, a number or one parenthesised group. */
function grouped(e: string): string {
  if (/^[\w.]+$/.test(e)) return e;
  if (e.startsWith('(')) {
    let depth = 0;
    for (let i = 0; i < e.length; i++) {
      depth += e[i] === '(' ? 1 : e[i] === ')' ? -1 : 0;
      if (depth === 0) return i === e.length - 1 ? e : `(${e})`;
    }
  }
  return `(${e})`;
}

/** Indents lines by two spaces per level. */
export function indent(lines: readonly string[], level: number): string[] {
  const pad = '  '.repeat(level);
  return lines.map((l) => (l ? pad + l : l));
}
