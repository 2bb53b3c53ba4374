/** Finding what to generate: graphs and variants exported by users' modules. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fail } from '../src/errors.ts';
import { isGraph, type Graph } from '../src/ir/index.ts';
import { importUserModule } from '../src/user-module.ts';
import { variants, type Variant } from '../src/variants/index.ts';

/** One graph to generate, with where it came from (for messages and headers). */
export interface GraphEntry {
  graph: Graph;
  /** e.g. `examples/app/kernels.ts#mha` or `builtin:mha` */
  source: string;
}

/** Whether a value looks like a built-in style Variant record. */
export function isVariant(x: unknown): x is Variant {
  if (x === null || typeof x !== 'object') return false;
  const v = x as Partial<Variant>;
  return typeof v.name === 'string' && typeof v.build === 'function' && typeof v.options === 'object';
}

/**
 * Imports `file` and returns every exported graph and variant (variants built with their
 * default options). Errors name the file and the export.
 * @example (await collectModule('examples/app/kernels.ts')).map((e) => e.source) // ['examples/app/kernels.ts#gqa64', …]
 */
export async function collectModule(file: string, cwd = process.cwd()): Promise<GraphEntry[]> {
  const path = resolve(cwd, file);
  if (!existsSync(path)) fail('USAGE', `generate: ${file}: no such file`);
  let mod: Record<string, unknown>;
  try {
    mod = await importUserModule(path);
  } catch (e) {
    fail('USAGE', `generate: ${file} could not be loaded: ${(e as Error).message.split('\n')[0]}`);
  }
  const out: GraphEntry[] = [];
  for (const name of Object.keys(mod).sort()) {
    const value = mod[name];
    const source = `${file}#${name}`;
    if (isGraph(value)) out.push({ graph: value, source });
    else if (isVariant(value)) out.push({ graph: buildVariant(value, source), source });
  }
  if (out.length === 0)
    fail('USAGE', `generate: ${file} exports no graph or variant (exports: ${Object.keys(mod).join(', ') || 'none'}); export the result of graph(...)`);
  return out;
}

function buildVariant(v: Variant, source: string): Graph {
  try {
    return v.build();
  } catch (e) {
    fail('USAGE', `generate: ${source}: building the variant failed: ${(e as Error).message}`);
  }
}

/**
 * Every built-in variant with its default options.
 * @example builtinEntries().map((e) => e.source) // ['builtin:mha', …]
 */
export function builtinEntries(): GraphEntry[] {
  return variants.map((v) => ({ graph: v.build(), source: `builtin:${v.name}` }));
}
