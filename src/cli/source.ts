/** Where the graph of `einattn run` comes from: a built-in variant or a user's module. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { isGraph, type Graph } from '../ir/index.ts';
import { importUserModule } from '../user-module.ts';
import { findVariant, variants, type Variant } from '../variants/index.ts';
import { looseOptions, usage, variantOptions } from './args.ts';

/** A graph to run, with what it was built from. */
export interface GraphSource {
  graph: Graph;
  /** e.g. "mha (causal=true)" or "./my.ts#g" */
  label: string;
  variant?: Variant;
  /** the options the graph was built with */
  options: Record<string, unknown>;
}

/**
 * Builds a built-in variant with `--opt` values.
 * @example variantSource('mha', { causal: 'true' }).graph.name // 'mha_causal'
 */
export function variantSource(name: string, rawOpts: Record<string, string>): GraphSource {
  const variant = findVariant(name);
  if (!variant) usage(`unknown variant '${name}' (variants: ${variants.map((v) => v.name).join(', ')}; see einattn list)`);
  const options = variantOptions(variant, rawOpts);
  // only what differs from the defaults, so the label reads like the command line
  const shown = Object.entries(options)
    .filter(([k, v]) => v !== variant.options[k]!.default)
    .map(([k, v]) => `${k}=${v}`);
  return { graph: variant.build(options), label: shown.length ? `${name} (${shown.join(', ')})` : name, variant, options };
}

/**
 * Imports a user module and takes its graph: the named export (default: `default`, or the
 * only export) is a Graph, or a function called with the `--opt` values that returns one.
 * @example await fileSource('./my-attn.ts', 'gqa', { groups: '2' })
 */
export async function fileSource(file: string, exportName: string | undefined, rawOpts: Record<string, string>): Promise<GraphSource> {
  const path = resolve(file);
  if (!existsSync(path)) usage(`--file ${file}: no such file`);
  const mod = await importUserModule(path);
  const names = Object.keys(mod).filter((k) => k !== '__esModule' && k !== 'module.exports');
  let name = exportName;
  if (name === undefined) {
    if ('default' in mod && mod.default !== undefined) name = 'default';
    else {
      const usable = names.filter((k) => isGraph(mod[k]) || typeof mod[k] === 'function');
      if (usable.length !== 1) usage(`--file ${file}: say which export is the graph with --export NAME (exports: ${names.join(', ') || 'none'})`);
      name = usable[0]!;
    }
  }
  if (!(name in mod) || mod[name] === undefined) usage(`--file ${file}: no export '${name}' (exports: ${names.join(', ') || 'none'})`);
  let value = mod[name];
  // A CommonJS module compiled from `export default` puts the default under .default again.
  if (name === 'default' && !isGraph(value) && typeof value !== 'function' && value && typeof value === 'object' && 'default' in value)
    value = (value as { default: unknown }).default;
  const options = looseOptions(rawOpts);
  if (typeof value === 'function') value = await (value as (o: unknown) => unknown)(options);
  else if (Object.keys(rawOpts).length) usage(`--file ${file}: export '${name}' is a graph, not a function, so it takes no --opt`);
  if (!isGraph(value)) usage(`--file ${file}: export '${name}' is not a Graph (build one with graph(name, { out }) from einattn)`);
  return { graph: value, label: `${file}#${name}`, options };
}
