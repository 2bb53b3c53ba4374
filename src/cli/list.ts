/** `einattn list`: what each built-in variant is, takes and needs. */
import { lower, unfusedReason } from '../lower/index.ts';
import { resolveOptions, variants, type Variant } from '../variants/index.ts';
import { parseFlags, usage } from './args.ts';
import { dimsText, oneLine } from './format.ts';

/** A variant as plain data: what `list --json` prints. */
export interface VariantListing {
  name: string;
  summary: string;
  options: { name: string; type: string; default: boolean | number | string; doc: string }[];
  inputs: { name: string; axes: string[]; dtype: string }[];
  outputs: { name: string; axes: string[]; dtype: string }[];
  dims: { check: Record<string, number>; bench: Record<string, number> };
  /**
   * whether the default graph, lowered at the bench dims, is fused: no temporary holding a
   * query axis and a key axis, no softmax · V contraction the flash matcher rejected
   */
  fused: boolean;
  /** why not, one line (what `compile(g, { fused: 'require' })` throws) */
  unfused?: string;
}

/**
 * Describes a variant; inputs and outputs come from its graph built with default options.
 * @example describeVariant(findVariant('mha')!).inputs[0] // { name: 'q', axes: ['b','h','s','d'], dtype: 'f32' }
 */
export function describeVariant(v: Variant): VariantListing {
  const g = v.build(resolveOptions(v));
  return {
    name: v.name,
    summary: v.summary,
    options: Object.entries(v.options).map(([name, o]) => ({ name, type: o.type, default: o.defaultText ?? o.default, doc: o.doc })),
    inputs: g.inputs.map((i) => ({ name: i.name, axes: [...i.axes], dtype: i.dtype })),
    outputs: g.outputs.map((o) => ({ name: o.name, axes: [...o.node.axes], dtype: o.node.dtype })),
    dims: { check: { ...v.dims.check }, bench: { ...v.dims.bench } },
    ...fusion(v),
  };
}

/**
 * Whether a variant's default graph lowers fused at its bench dims (no GPU needed), and why not.
 * @example fusion(findVariant('mha')!) // { fused: true }
 */
export function fusion(v: Variant): Pick<VariantListing, 'fused' | 'unfused'> {
  let why: string | undefined;
  try {
    why = unfusedReason(lower(v.build(resolveOptions(v)), { dims: v.dims.bench }));
  } catch (e) {
    why = `it does not lower: ${oneLine(e instanceof Error ? e.message : String(e))}`;
  }
  return why === undefined ? { fused: true } : { fused: false, unfused: why };
}

/**
 * Formats a listing as indented text.
 * @example console.log(formatListing(describeVariant(v)))
 */
export function formatListing(l: VariantListing): string {
  const lines = [`${l.name} — ${l.summary}`, `  fused:   ${l.fused ? 'yes' : `no: ${l.unfused}`}`];
  if (l.options.length) {
    lines.push('  options:');
    for (const o of l.options) lines.push(`    --opt ${o.name}=<${o.type}>  default ${o.default}  ${o.doc}`);
  } else lines.push('  options: none');
  const tensor = (t: { name: string; axes: string[]; dtype: string }) => `${t.name}: ${t.dtype}[${t.axes.join(' ')}]`;
  lines.push(`  inputs:  ${l.inputs.map(tensor).join(', ')}`);
  lines.push(`  outputs: ${l.outputs.map(tensor).join(', ')}`);
  lines.push(`  check dims: ${dimsText(l.dims.check)}`);
  lines.push(`  bench dims: ${dimsText(l.dims.bench)}`);
  return lines.join('\n');
}

/**
 * Runs `einattn list` and returns the exit code.
 * @example await listCommand(['--json'])
 */
export async function listCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, { json: { type: 'boolean' } }, 'list');
  if (positionals.length) usage(`list takes no arguments, got ${positionals.join(' ')}`);
  const listings = variants.map(describeVariant);
  if (values.json) console.log(JSON.stringify(listings, null, 2));
  else console.log(listings.map(formatListing).join('\n\n'));
  return 0;
}
