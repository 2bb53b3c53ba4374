// Bad command lines: each fails before any GPU work with one line on stderr and no stack.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, it } from 'vitest';
import { encodeNpy, f32ArrayToF16 } from '../../src/runtime/index.ts';
import { cli, expectOneLineError, REPO, tempDir } from './helpers.ts';

// mha's check dims are b=1 h=2 s=7 t=9 d=8, so q is [1, 2, 7, 8].
const Q_SHAPE = [1, 2, 7, 8];
const Q_COUNT = 112;
let dir = '';
const file = (name: string) => join(dir, name);

beforeAll(() => {
  dir = tempDir();
  const q = Float32Array.from({ length: Q_COUNT }, (_, i) => Math.sin(i));
  const good = encodeNpy({ dtype: 'f32', shape: Q_SHAPE, data: q });
  writeFileSync(file('q16.npy'), encodeNpy({ dtype: 'f16', shape: Q_SHAPE, data: f32ArrayToF16(q) }));
  writeFileSync(file('qshape.npy'), encodeNpy({ dtype: 'f32', shape: [1, 2, 8, 7], data: q }));
  writeFileSync(file('qtrunc.npy'), good.subarray(0, good.length - 12));
  const fortran = Buffer.from(good).toString('latin1').replace("'fortran_order': False", "'fortran_order': True ");
  writeFileSync(file('qfortran.npy'), Buffer.from(fortran, 'latin1'));
  writeFileSync(file('notnpy.npy'), 'hello');
  const src = JSON.stringify(join(REPO, 'src', 'index.ts'));
  writeFileSync(
    file('graph.ts'),
    `import { einsum, graph, input } from ${src};\nexport const dot = graph('dot', { o: einsum('b s d, b t d -> b s t', input('q', 'b s d'), input('k', 'b t d')) });\n`,
  );
});

describe.concurrent('einattn usage errors (exit 2)', () => {
  const cases: [string, string[], RegExp][] = [
    ['unknown command', ['frobnicate'], /unknown command 'frobnicate'/],
    ['unknown variant', ['run', 'nosuch'], /unknown variant 'nosuch' \(variants: .*mha/],
    ['unknown option', ['run', 'mha', '--opt', 'windw=3'], /variant 'mha' has no option 'windw' \(options: causal, window, /],
    ['bad option value', ['run', 'mha', '--opt', 'causal=maybe'], /option 'causal' must be true or false, got 'maybe'/],
    ['bad --dims syntax', ['run', 'mha', '--dims', 'b=1,h'], /--dims: 'h' is not name=size/],
    ['non-integer size', ['run', 'mha', '--dims', 'b=1,h=2.5,s=7,t=9,d=8,dv=8'], /--dims: h=2\.5: a size must be a positive integer/],
    ['missing dim', ['run', 'mha', '--dims', 'b=1,h=2,s=7,t=9'], /--dims: .*sizes 'd', 'dv' not bound/],
    ['unknown dim', ['run', 'mha', '--dims', 'b=1,h=2,s=7,t=9,d=8,dv=8,x=3'], /--dims: .*'x'.*no such axis/],
    ['unknown input name', ['run', 'mha', '--in', 'x=x.npy'], /--in x=x\.npy: the graph has no input 'x' \(inputs: q, k, v\)/],
    ['unknown output name', ['run', 'mha', '--out', 'y=y.npy'], /the graph has no output 'y' \(outputs: o\)/],
    ['unknown flag', ['run', 'mha', '--frob'], /unknown option '--frob'/],
    ['flag without value', ['run', 'mha', '--dims'], /option '--dims' needs a value/],
    ['no variant', ['run'], /run needs a variant name/],
    ['--file without --dims', ['run', '--file', '<graph.ts>'], /--file needs --dims with the graph's sizes \(b s d t\)/],
    ['--file with a missing export', ['run', '--file', '<graph.ts>', '--export', 'nope', '--dims', 'b=1'], /no export 'nope' \(exports: .*dot/],
    ['bad --repeat', ['run', 'mha', '--repeat', 'x'], /--repeat must be an integer/],
    ['bad --adapter', ['run', 'mha', '--adapter', 'tpu'], /--adapter must be one of/],
    ['--interp with --check', ['run', 'mha', '--interp', '--check'], /drop --interp/],
  ];
  for (const [what, args, message] of cases) {
    it(what, async () => {
      expectOneLineError(await cli(args.map((a) => (a === '<graph.ts>' ? file('graph.ts') : a))), 2, message);
    });
  }
});

describe.concurrent('einattn .npy input errors (exit 1)', () => {
  const cases: [string, string, RegExp][] = [
    ['wrong dtype', 'q16.npy', /q16\.npy: input 'q' expects f32\[b=1 h=2 s=7 d=8\], got dtype f16/],
    ['wrong shape', 'qshape.npy', /qshape\.npy: input 'q' expects f32\[b=1 h=2 s=7 d=8\], got shape \[1, 2, 8, 7\]/],
    ['Fortran order', 'qfortran.npy', /qfortran\.npy: fortran_order True .*not supported.*input 'q'/],
    ['truncated', 'qtrunc.npy', /qtrunc\.npy: truncated data.*input 'q'/],
    ['not a .npy file', 'notnpy.npy', /notnpy\.npy: not a \.npy file/],
    ['missing file', 'absent.npy', /absent\.npy: cannot read \(input 'q'\)/],
  ];
  for (const [what, name, message] of cases) {
    it(what, async () => {
      expectOneLineError(await cli(['run', 'mha', '--in', `q=${file(name)}`]), 1, message);
    });
  }
});
