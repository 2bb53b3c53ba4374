/**
 * Where `einattn run` gets its inputs: with no --in, every input is pseudo-random and the
 * summary says so; once one input comes from a file, each other one must be given or asked for
 * (--random NAME, --random-rest), never made up silently.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { inputSources } from '../../src/cli/data.ts';
import { encodeNpy, parseNpy } from '../../src/runtime/index.ts';
import { cli, expectOk, expectOneLineError, tempDir } from './helpers.ts';

const DIMS = ['--dims', 'b=1,h=2,s=5,t=6,d=4,dv=4'];
let dir = '';
let q = '';

const readNpyFile = (path: string) => {
  const b = readFileSync(path);
  return parseNpy(new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)), path);
};

beforeAll(() => {
  dir = tempDir();
  q = join(dir, 'q.npy');
  writeFileSync(q, encodeNpy({ dtype: 'f32', shape: [1, 2, 5, 4], data: Float32Array.from({ length: 40 }, (_, i) => Math.cos(i)) }));
});

describe.concurrent('einattn run inputs', () => {
  it('without --in, every input is pseudo-random and the summary says so', async () => {
    const r = await cli(['run', 'mha', '--interp', ...DIMS]);
    expectOk(r);
    expect(r.stdout).toMatch(/^inputs: q f32\[b=1 h=2 s=5 d=4\], k f32\[b=1 h=2 t=6 d=4\], v f32\[b=1 h=2 t=6 dv=4\]; q, k, v pseudo-random \(seed 0\)$/m);
  });

  it('an input that --in leaves out is an error naming it and the flags that fill it', async () => {
    expectOneLineError(
      await cli(['run', 'mha', '--interp', ...DIMS, '--in', `q=${q}`]),
      2,
      /inputs 'k', 'v' have no values \(--in gives only q\): give them with --in k=FILE\.npy --in v=FILE\.npy, or ask for pseudo-random values with --random k,v or --random-rest$/,
    );
    expectOneLineError(
      await cli(['run', 'mha', '--interp', ...DIMS, '--in', `q=${q}`, '--random', 'k']),
      2,
      /input 'v' has no value \(--in gives only q\): give it with --in v=FILE\.npy, or ask for pseudo-random values with --random v or --random-rest$/,
    );
  });

  it('--random NAME and --random-rest fill the others, with the same values as without --in', async () => {
    const outs = ['named', 'list', 'rest'].map((n) => join(dir, `${n}.npy`));
    const runs = await Promise.all([
      cli(['run', 'mha', '--interp', ...DIMS, '--in', `q=${q}`, '--random', 'k', '--random', 'v', '--out', outs[0]!]),
      cli(['run', 'mha', '--interp', ...DIMS, '--in', `q=${q}`, '--random', 'k,v', '--out', outs[1]!]),
      cli(['run', 'mha', '--interp', ...DIMS, '--in', `q=${q}`, '--random-rest', '--out', outs[2]!]),
    ]);
    for (const r of runs) {
      expectOk(r);
      expect(r.stdout).toMatch(
        new RegExp(
          `^inputs: q f32\\[b=1 h=2 s=5 d=4\\] from ${q.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}, k f32\\[b=1 h=2 t=6 d=4\\], v f32\\[b=1 h=2 t=6 dv=4\\]; k, v pseudo-random \\(seed 0\\)$`,
          'm',
        ),
      );
    }
    const [a, b, c] = outs.map((p) => Array.from(readNpyFile(p).data));
    expect(b).toEqual(a);
    expect(c).toEqual(a);
  });

  it('--random rejects an unknown input and one that --in already reads', async () => {
    expectOneLineError(await cli(['run', 'mha', '--interp', ...DIMS, '--random', 'x']), 2, /--random x: the graph has no input 'x' \(inputs: q, k, v\)/);
    expectOneLineError(
      await cli(['run', 'mha', '--interp', ...DIMS, '--in', `q=${q}`, '--random', 'q']),
      2,
      /--random q: input 'q' is already read from --in q=.*q\.npy/,
    );
  });

  it('run --help describes --in, --random and --random-rest', async () => {
    const r = await cli(['run', '--help']);
    expectOk(r);
    expect(r.stdout).toMatch(/--random NAME\s+make input NAME pseudo-random/);
    expect(r.stdout).toMatch(/--random-rest\s+make every input not given by --in pseudo-random/);
    expect(r.stdout).toMatch(/With no --in at all, every input is\s+pseudo-random/);
  });
});

describe('inputSources', () => {
  const names = ['q', 'k', 'v'];
  it('makes everything random without --in, and nothing silently once one file is given', () => {
    expect([...inputSources(names, [], [], false).sources.values()].map((s) => s.kind)).toEqual(['random', 'random', 'random']);
    expect(inputSources(names, [['q', 'q.npy']], [], false).missing).toEqual(['k', 'v']);
    expect(inputSources(names, [['q', 'q.npy']], [' v '], false).missing).toEqual(['k']);
    const rest = inputSources(names, [['k', 'k.npy']], [], true);
    expect(rest.missing).toEqual([]);
    expect(rest.sources.get('k')).toEqual({ kind: 'file', path: 'k.npy' });
    expect(rest.sources.get('q')).toEqual({ kind: 'random' });
  });
});
