/**
 * The host einattn runs on, Node or a browser. `#platform` (package.json "imports") resolves
 * to `node.ts`, or to `browser.ts` under a bundler's `browser` condition; this module is its
 * only importer, so the choice is made in one place. In this repository tsconfig.json
 * "paths" map `#platform` to `node.ts` (tsc, tsx, vitest); browser bundles of the sources
 * map it to `browser.ts` (examples/web/build.ts).
 */
import { platform as selected } from '#platform';
import { EinattnError } from '../errors.ts';
import type { AdapterChoice, ChosenAdapter } from './adapter.ts';
import type { NodeHost, Platform } from './types.ts';

export type { NodeHost, Platform };

/** The platform this code runs on. Typed here, so no declaration file names `#platform`. */
export const platform: Platform = selected;

/**
 * Finds an adapter for `choice`, or throws NO_ADAPTER naming what was tried and what to do:
 * under Node, Dawn's hardware → software Vulkan → OpenGL ES; in a browser, `navigator.gpu`.
 * @example const { adapter, kind, reason } = await chooseAdapter('auto')
 */
export function chooseAdapter(choice: AdapterChoice, source = 'adapter'): Promise<ChosenAdapter> {
  return platform.chooseAdapter(choice, source);
}

/**
 * The Node facilities for `what`, or a USAGE error saying that it needs Node.
 * @example const host = nodeHost('readNpy()'); host.readFile(path)
 */
export function nodeHost(what: string): NodeHost {
  if (platform.node) return platform.node;
  throw new EinattnError('USAGE', `${what} needs Node (files and processes); it is not available in a browser`);
}
