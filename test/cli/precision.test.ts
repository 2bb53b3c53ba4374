// einattn run with reduced precision: f16 compute and storage, the f32 fallback, the int8 variant.
import { describe, expect, it } from 'vitest';
import { cli, expectOk, expectOneLineError } from './helpers.ts';

describe.concurrent('einattn run --compute / --storage / --f16-fallback, gqa_int8', () => {
  it('--compute f16 --storage f16 --check holds the result to the f16 tolerance and says so', async () => {
    const r = await cli(['run', 'gqa', '--compute', 'f16', '--storage', 'f16', '--check']);
    expectOk(r);
    expect(r.stdout).toMatch(/; f16 compute, f16 storage$/m);
    expect(r.stdout).toMatch(/tolerance = 2e-3·√L·max\(1, \|ref\|max\) \+ 1e-6 with L = 9 \(longest reduction\), f16/);
    expect(r.stdout).toMatch(/o: max abs err .*: ok$/m);
  });

  it('gqa_int8 is listed and runs against the interpreter', async () => {
    const l = await cli(['list']);
    expect(l.stdout).toMatch(
      /inputs:\s+q: f32\[b h s d\], k_q: i8\[b g t d\], k_scale: f32\[b g t\], v_q: i8\[b g t dv\], v_scale: f32\[b g t\], kv_len: i32\[b\]/,
    );
    const r = await cli(['run', 'gqa_int8', '--check']);
    expectOk(r);
    expect(r.stdout).toMatch(/k_q i8\[b=2 g=2 t=13 d=8\]/);
    expect(r.stdout).toMatch(/o: max abs err .*: ok$/m);
  });

  it('on an adapter without shader-f16: a one-line DTYPE error, or --f16-fallback runs in f32', async () => {
    const bad = await cli(['run', 'mha', '--compute', 'f16', '--adapter', 'opengles']);
    expectOneLineError(bad, 1, /needs the WebGPU feature 'shader-f16' \(for compute: 'f16'\), which the opengles adapter/);
    expect(bad.errLines.join('\n')).toMatch(/einattn run --f16-fallback runs it with f32/); // the hint names the flag, not the API
    const r = await cli(['run', 'mha', '--compute', 'f16', '--adapter', 'opengles', '--f16-fallback', '--check']);
    expectOk(r);
    expect(r.stdout).toContain('f16 ran as f32 (--f16-fallback): the adapter has no shader-f16');
  });

  it('bad values are usage errors', async () => {
    expectOneLineError(await cli(['run', 'mha', '--compute', 'bf16']), 2, /--compute must be f32 or f16, got 'bf16'/);
    expectOneLineError(await cli(['run', 'mha', '--storage', 'f32']), 2, /--storage must be f16/);
  });
});
