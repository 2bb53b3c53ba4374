/**
 * The Node platform: Dawn for adapters, process.env, node:zlib and the file system. package.json
 * "imports" maps `#platform` here for every condition but `browser`.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { deflateSync } from 'node:zlib';
import { chooseDawnAdapter } from './dawn.ts';
import { awaitNapping } from './nap.ts';
import type { NodeHost, Platform } from './types.ts';

const node: NodeHost = {
  readFileSync: (path) => readFileSync(path),
  writeFileSync: (path, data) => writeFileSync(path, data),
  readFile: (path) => readFile(path),
  writeFile: (path, data) => writeFile(path, data),
  saveFile(path, data) {
    const abs = resolve(path);
    mkdirSync(dirname(abs), { recursive: true });
    writeFileSync(abs, data);
    return abs;
  },
  cwd: () => process.cwd(),
  pid: process.pid,
  path: { dirname, join, resolve },
  importTypeScript: async () => {
    const mod = (await import('typescript')) as typeof import('typescript') & { default?: typeof import('typescript') };
    return mod.default ?? mod;
  },
};

/** The Node platform. */
export const platform: Platform = {
  name: 'node',
  env: (name) => process.env[name],
  chooseAdapter: chooseDawnAdapter,
  awaitGpu: awaitNapping,
  deflate: (bytes) => deflateSync(bytes),
  node,
};
