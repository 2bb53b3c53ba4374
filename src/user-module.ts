/**
 * Importing a user's module by path: the graph file of `einattn run --file` and the modules of
 * `einattn generate`. Plain Node cannot load TypeScript: when it refuses a TypeScript file,
 * tsx's loader (a dependency of einattn) is registered, once per process, for ESM and for
 * CommonJS (a `.ts` file outside an ESM package is CommonJS to Node), and the import is tried
 * again. Where TypeScript already loads (the repository's `bin/einattn.mjs` runs einattn's own
 * sources under tsx; vitest), nothing is registered.
 */
import { pathToFileURL } from 'node:url';

const MARK = Symbol.for('einattn.tsLoader');
const TS_FILE = /\.(?:[cm]?ts|tsx)$/i;
/** URLs whose first import failed for want of a loader: Node keeps that failure, a query makes a fresh import */
const refused = new Set<string>();

/**
 * Imports the module at an absolute `path`, TypeScript included.
 * @example const mod = await importUserModule(resolve('my-attn.ts'))
 */
export async function importUserModule(path: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(path).href;
  const g = globalThis as { [MARK]?: Promise<void> };
  if (refused.has(url)) return (await import(`${url}?ts`)) as Record<string, unknown>;
  if (!TS_FILE.test(path) || g[MARK]) return (await import(url)) as Record<string, unknown>;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (e) {
    if ((e as { code?: unknown } | null)?.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw e;
  }
  g[MARK] ??= (async () => {
    const [esm, cjs] = await Promise.all([import('tsx/esm/api'), import('tsx/cjs/api')]);
    cjs.register();
    esm.register();
  })();
  await g[MARK];
  refused.add(url);
  return (await import(`${url}?ts`)) as Record<string, unknown>;
}
