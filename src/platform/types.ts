/**
 * What einattn needs from its host that is not WebGPU itself: how to find an adapter, an
 * environment, a deflate for PNG heatmaps, and (in Node only) files. `node.ts` and
 * `browser.ts` each provide one {@link Platform}; package.json "imports" picks `#platform` by
 * the bundler's `browser` condition, so no Node built-in and no Dawn reaches a browser bundle.
 */
import type { AdapterChoice, ChosenAdapter } from './adapter.ts';

/** The file-system and process facilities only Node has. */
export interface NodeHost {
  readFileSync(path: string): Uint8Array;
  writeFileSync(path: string, data: Uint8Array | string): void;
  readFile(path: string): Promise<Uint8Array>;
  writeFile(path: string, data: Uint8Array | string): Promise<void>;
  /** writes `data` to `path`, creating its folder; returns the absolute path */
  saveFile(path: string, data: string): string;
  cwd(): string;
  pid: number;
  path: { dirname(p: string): string; join(...parts: string[]): string; resolve(...parts: string[]): string };
  /** the `typescript` package, for typecheck() */
  importTypeScript(): Promise<typeof import('typescript')>;
}

/** One host: Node (Dawn from the `webgpu` package) or a browser (`navigator.gpu`). */
export interface Platform {
  readonly name: 'node' | 'browser';
  /** an environment variable (always undefined in a browser) */
  env(name: string): string | undefined;
  /** finds an adapter for `choice` or throws NO_ADAPTER with what was tried; `source` names the choice in messages */
  chooseAdapter(choice: AdapterChoice, source: string): Promise<ChosenAdapter>;
  /**
   * awaits a WebGPU promise (a map, a queue's completion) without keeping a core busy: Node naps
   * between Dawn's polls, a browser awaits it as it is
   */
  awaitGpu<T>(p: Promise<T>): Promise<T>;
  /** zlib-format (RFC 1950) deflate of `bytes`, synchronous */
  deflate(bytes: Uint8Array): Uint8Array;
  /** files and the process; undefined in a browser */
  readonly node: NodeHost | undefined;
}
