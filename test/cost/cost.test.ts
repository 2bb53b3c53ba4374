/** The cost model against hand-derived values. */
import { describe, expect, test } from 'vitest';
import { costOf, DEVICES, graphFlops, kvPerToken, kvContextSvg, rooflineSvg } from '../../src/cost/index.ts';
import { einsum, graph, indices, input, type Graph } from '../../src/index.ts';
import { mha } from '../../src/variants/index.ts';

/** softmax(q kᵀ) v with the given K/V layouts (GQA and MQA fall out of the axes). */
function attention(kAxes: string, qSplit: boolean): Graph {
  const q0 = input('q', 'b h s d');
  const q = qSplit ? q0.split('h', 'g r') : q0;
  const qa = q.axes.join(' ');
  const k = input('k', kAxes);
  const v = input('v', kAxes.replace(' d', ' dv'));
  const sAxes = qa.replace(' d', ' t');
  const p = einsum(`${qa}, ${kAxes} -> ${sAxes}`, q, k).softmax('t');
  return graph('attn', { o: einsum(`${sAxes}, ${v.axes.join(' ')} -> ${qa.replace(' d', ' dv')}`, p, v) });
}

/** MLA, naive: K and V up-projected from the latent cache, plus the decoupled RoPE key. */
function mlaNaive(): Graph {
  const qn = input('q_nope', 'b h s dn');
  const qr = input('q_rope', 'b h s dr');
  const ckv = input('c_kv', 'b t dc');
  const kr = input('k_rope', 'b t dr');
  const wuk = input('w_uk', 'dc h dn');
  const wuv = input('w_uv', 'dc h dv');
  const kn = einsum('b t dc, dc h dn -> b h t dn', ckv, wuk);
  const vv = einsum('b t dc, dc h dv -> b h t dv', ckv, wuv);
  const logits = einsum('b h s dn, b h t dn -> b h s t', qn, kn).add(einsum('b h s dr, b t dr -> b h s t', qr, kr));
  return graph('mla', { o: einsum('b h s t, b h t dv -> b h s dv', logits.softmax('t'), vv) });
}

function paged(): Graph {
  const q = input('q', 'b g r s d');
  const kc = input('k_cache', 'n g blk d');
  const vc = input('v_cache', 'n g blk dv');
  const table = input('block_table', 'b m', 'i32');
  const k = kc.gather('n', table).merge('m blk', 't');
  const v = vc.gather('n', table).merge('m blk', 't');
  // gather puts the table's axes where 'n' was, the merge puts t where 'm' was: [b t g d]
  const p = einsum('b g r s d, b t g d -> b g r s t', q, k).softmax('t');
  return graph('paged', { o: einsum('b g r s t, b t g dv -> b g r s dv', p, v) });
}

describe('KV-cache elements per token per layer, derived from the graph', () => {
  const dims = { b: 2, h: 8, g: 2, d: 64, dv: 64, s: 1, t: 16, dn: 128, dr: 64, dc: 512, n: 9, blk: 16, m: 4, r: 4 };
  test('MHA: 2·h·d', () => expect(kvPerToken(mha(), dims, 4).elements).toBe(2 * 8 * 64));
  test('GQA: 2·g·d', () => expect(kvPerToken(attention('b g t d', true), dims, 4).elements).toBe(2 * 2 * 64));
  test('MQA: 2·d', () => expect(kvPerToken(attention('b t d', false), dims, 4).elements).toBe(2 * 64));
  test('MLA: dc + dr = 576 for DeepSeek-V2', () => {
    const kv = kvPerToken(mlaNaive(), dims, 2);
    expect(kv.elements).toBe(576);
    expect(kv.inputs.map((i) => i.name)).toEqual(['c_kv', 'k_rope']);
    expect(kv.bytes).toBe(1152);
  });
  test('paged GQA: 2·g·d, the token axes being the block and the slot in it', () => {
    const kv = kvPerToken(paged(), dims, 4);
    expect(kv.elements).toBe(2 * 2 * 64);
    expect(kv.inputs[0]!.tokenAxes.sort()).toEqual(['blk', 'n']);
  });
});

describe('FLOPs', () => {
  const dims = { b: 2, h: 4, s: 96, t: 96, d: 32, dv: 32 };
  test('attention contractions cost 4·b·h·s·t·d', () => {
    expect(graphFlops(mha(), dims).contraction).toBe(4 * 2 * 4 * 96 * 96 * 32);
  });
  test('a cumsum costs one add per element (O(t), not O(t²)); a top-k of k over m, k·m per row', () => {
    const x = input('x', 'b t');
    expect(graphFlops(graph('scan', { c: x.cumsum('t') }), { b: 3, t: 5000 }).elementwise).toBe(3 * 5000);
    expect(graphFlops(graph('top', { i: x.topk('t', 4, 'j') }), { b: 3, t: 100 }).elementwise).toBe(4 * 3 * 100);
  });
  test('a causal mask halves them (exactly: (t + 1) / 2t of the pairs at s = t)', () => {
    const f = graphFlops(mha({ causal: true }), dims);
    expect(f.maskDensity[0]).toBeCloseTo(97 / 192, 12);
    expect(f.contraction).toBeCloseTo(4 * 2 * 4 * 96 * 96 * 32 * (97 / 192), 0);
  });
  test('maps other than a softmax are attentions too: plain weights under where(mask, …, 0), and combinations of maps', async () => {
    const { diff, sigmoidAttention, linearAttention } = await import('../../src/variants/index.ts');
    for (const g of [sigmoidAttention({ causal: true }), linearAttention({ causal: true })]) {
      const f = graphFlops(g, dims);
      expect(f.maskDensity, g.name).toEqual([97 / 192]);
    }
    // two score products and one P·V, each at the causal density
    const f = graphFlops(diff({ causal: true }), dims);
    expect(f.maskDensity).toEqual([97 / 192]);
    expect(f.contraction).toBeCloseTo(3 * 2 * 2 * 4 * 96 * 96 * 32 * (97 / 192), 0);
  });
  test('a sliding window keeps about w/t of the pairs; large masks are sampled', () => {
    const [s, t] = indices('s t');
    const q = input('q', 's d');
    const k = input('k', 't d');
    const w = 64;
    const p = einsum('s d, t d -> s t', q, k).softmax('t', { mask: t.le(s).and(t.gt(s.sub(w))) });
    const g = graph('window', { o: einsum('s t, t d -> s d', p, input('v', 't d')) });
    const exact = graphFlops(g, { s: 1024, t: 1024, d: 8 }).maskDensity[0]!;
    expect(exact).toBeCloseTo((64 * 1024 - (64 * 63) / 2) / 1024 ** 2, 6);
    const sampled = graphFlops(g, { s: 8192, t: 8192, d: 8 }).maskDensity[0]!;
    expect(sampled).toBeGreaterThan(0.5 * (64 / 8192));
    expect(sampled).toBeLessThan(2 * (64 / 8192));
  });
  test('a mask that reads a tensor has unknown density and is counted dense', () => {
    const [t] = indices('t');
    const len = input('kv_len', 'b', 'i32');
    const p = einsum('b s d, b t d -> b s t', input('q', 'b s d'), input('k', 'b t d')).softmax('t', { mask: t.lt(len) });
    const g = graph('ragged', { o: einsum('b s t, b t d -> b s d', p, input('v', 'b t d')) });
    expect(graphFlops(g, { b: 1, s: 4, t: 8, d: 2 }).maskDensity).toEqual([null]);
  });
});

describe('plans, devices and plots', () => {
  const dims = { b: 1, h: 8, s: 512, t: 512, d: 64, dv: 64 };
  test('the unfused plan allocates the s×t scores, the fused one does not', () => {
    const r = costOf(mha(), dims);
    expect(r.unfused.temp).toBeGreaterThanOrEqual(2 * 8 * 512 * 512 * 4);
    expect(r.fused.temp).toBeLessThan(8 * 512 * 512 * 4);
    expect(r.fused.read + r.fused.written).toBeLessThan(r.unfused.read + r.unfused.written);
  });
  test('decoding is memory-bound and long prefill compute-bound on an H100', () => {
    const decode = costOf(mha(), { ...dims, s: 1, t: 4096 }, { device: DEVICES.h100 });
    expect(decode.device!.bound).toBe('memory');
    const prefill = costOf(mha(), { ...dims, s: 4096, t: 4096 }, { device: DEVICES.h100, dtype: 'f16' });
    expect(prefill.device!.bound).toBe('compute');
    expect(prefill.device!.predictedMs).toBeCloseTo((prefill.flops.total / DEVICES.h100!.flops.f16) * 1e3, 9);
  });
  test('sizes are solved like a run: r from h and g', () => {
    expect(costOf(attention('b g t d', true), { b: 1, h: 8, g: 2, s: 1, t: 4, d: 2, dv: 2 }).sizes.r).toBe(4);
  });
  test('the SVG plots are self-contained and label every series', () => {
    const roof = rooflineSvg({ name: 'H100', peak: 67e12, bandwidth: 3.35e12 }, [
      { label: 'mha', intensity: 0.5 },
      { label: 'mla <naive>', intensity: 99 },
    ]);
    expect(roof).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(roof).toContain('mla &lt;naive&gt;');
    expect((roof.match(/<circle/g) ?? []).length).toBe(2);
    const kv = kvContextSvg(
      [
        { label: 'mha', bytesPerToken: 4096 },
        { label: 'mqa', bytesPerToken: 512 },
      ],
      { layers: 32, batch: 8 },
    );
    expect((kv.match(/<polyline/g) ?? []).length).toBe(2);
  });
});

describe('einattn cost', () => {
  const ROOT = new URL('../../', import.meta.url).pathname;
  const cli = async (args: string[]) => {
    const { execFile } = await import('node:child_process');
    return new Promise<{ code: number; stdout: string; stderr: string }>((res) =>
      execFile('node', [`${ROOT}bin/einattn.mjs`, ...args], { cwd: ROOT }, (e, stdout, stderr) => res({ code: e ? (e.code as number) : 0, stdout, stderr })),
    );
  };
  test('prints the table for a variant on a device', async () => {
    const r = await cli(['cost', 'mha', '--opt', 'causal=true', '--dims', 'b=1,h=8,s=256,t=256,d=64,dv=64', '--device', 'a100']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/KV cache per token\s+4 KiB\s+1024 elements per layer: k 512 \+ v 512/);
    expect(r.stdout).toMatch(/mask density\s+0\.50/);
    expect(r.stdout).toMatch(/on NVIDIA A100 SXM4 80GB\s+\S+ ms\s+(compute|memory)-bound/);
  });
  test('--compare writes the plots; a bad device is a one-line usage error', async () => {
    const { mkdtempSync, readFileSync } = await import('node:fs');
    const dir = mkdtempSync(`${(await import('node:os')).tmpdir()}/einattn-cost-`);
    const r = await cli(['cost', '--compare', 'mha', '--device', 'h100', '--svg', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/decode step \(s=1\) at context 4096, batch 8, 32 layers/);
    expect(readFileSync(`${dir}/kv-vs-context.svg`, 'utf8')).toContain('<polyline');
    expect(readFileSync(`${dir}/roofline.svg`, 'utf8')).toContain('<circle');
    const bad = await cli(['cost', 'mha', '--device', 'tpu']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^einattn: unknown --device 'tpu' \(devices: h100, h200, a100, rtx4090, m2, local\)$/m);
  });
});

describe('every built-in variant', () => {
  test("the graph-derived KV bytes per token equal the variant's own formula", async () => {
    const { variants } = await import('../../src/variants/index.ts');
    const { resolveSizes } = await import('../../src/index.ts');
    expect(variants.length).toBeGreaterThan(1);
    for (const v of variants) {
      const g = v.build();
      const kv = kvPerToken(g, resolveSizes(g, v.dims.bench), 4);
      // an int8 cache counts 1 byte per value (and its f32 scales at 4)
      expect(kv.bytes, v.name).toBe(v.kvBytesPerToken(v.dims.bench, 4));
    }
  });
  test('Linformer: the cache is k and v per original token, not the projections', async () => {
    const { findVariant } = await import('../../src/variants/index.ts');
    const v = findVariant('linformer')!;
    const kv = kvPerToken(v.build(), { ...v.dims.bench, r: 1 }, 4);
    expect(kv.inputs.map((i) => `${i.name}:${i.tokenAxes.join(',')}`)).toEqual(['k:t', 'v:t']);
  });
});
