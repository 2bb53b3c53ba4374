/**
 * The KV caches' kernels are built with the kernel IR and written by its renderer: one append
 * kernel pinned as inline WGSL (TypeGPU style), and no user name reaches the shader text (a
 * cache's axis names only name the plan's sizes). test/runtime/kv-cache.test.ts checks what
 * they compute on the device.
 */
import { expect, test } from 'vitest';
import { advancePlan, appendInt8Plan, appendPagedPlan, appendWordsPlan } from '../../src/runtime/kv/kernels.ts';

test('the word-copy append, as WGSL', () => {
  expect(appendWordsPlan({ name: 'k_cache', axes: ['b', 'g', 't', 'd'], dtype: 'f32' }, 't', 's').kernels[0]!.wgsl).toMatchInlineSnapshot(`
    "// einattn kernel kv_append_words: new rows written into a KV cache in place, 4-byte words at a time
    // cache[b, h, kv_len[b] + i, :] = rows[b, h, i, :] for i < counts[b], up to the capacity t; nothing else is touched
    // schedule: hand-written runtime kernel, 64 invocations per workgroup

    struct _Sizes { b: u32, h: u32, s: u32, t: u32, w: u32 }
    @group(0) @binding(0) var<storage, read> rows: array<u32>;
    @group(0) @binding(1) var<storage, read_write> cache: array<u32>;
    @group(0) @binding(2) var<storage, read> kv_len: array<i32>;
    @group(0) @binding(3) var<storage, read> counts: array<i32>;
    @group(0) @binding(4) var<uniform> _sz: _Sizes;

    @compute @workgroup_size(64)
    fn kv_append_words(@builtin(workgroup_id) _wid: vec3u, @builtin(num_workgroups) _nwg: vec3u, @builtin(local_invocation_index) _lid: u32) {
      let _gid = (_wid.x + (_wid.y + _wid.z * _nwg.y) * _nwg.x) * 64u + _lid;
      if (_gid >= _sz.b * _sz.h * _sz.s * _sz.w) { return; }
      let word = _gid % _sz.w;
      let i = (_gid / _sz.w) % _sz.s;
      let bh = _gid / (_sz.w * _sz.s);
      let b = bh / _sz.h;
      let len = kv_len[b];
      if (len < 0i || i32(i) >= counts[b]) { return; }
      let pos = u32(len) + i;
      if (pos >= _sz.t) { return; }
      cache[(bh * _sz.t + pos) * _sz.w + word] = rows[_gid];
    }
    "
  `);
});

test('the advance of the lengths, as WGSL', () => {
  expect(advancePlan('b').kernels[0]!.wgsl).toMatchInlineSnapshot(`
    "// einattn kernel kv_advance: the sequence lengths advance by the rows just appended
    // schedule: hand-written runtime kernel, 64 invocations per workgroup

    struct _Sizes { b: u32 }
    @group(0) @binding(0) var<storage, read_write> kv_len: array<i32>;
    @group(0) @binding(1) var<storage, read> counts: array<i32>;
    @group(0) @binding(2) var<uniform> _sz: _Sizes;

    @compute @workgroup_size(64)
    fn kv_advance(@builtin(workgroup_id) _wid: vec3u, @builtin(num_workgroups) _nwg: vec3u, @builtin(local_invocation_index) _lid: u32) {
      let _gid = (_wid.x + (_wid.y + _wid.z * _nwg.y) * _nwg.x) * 64u + _lid;
      if (_gid >= _sz.b) { return; }
      kv_len[_gid] = kv_len[_gid] + counts[_gid];
    }
    "
  `);
});

test('the WGSL names fixed identifiers only: axis names, however odd, bind sizes and never reach the shader', () => {
  const odd = ['fn', 'loop', 'var', 'exp'];
  const pairs = [
    [
      appendWordsPlan({ name: 'x', axes: ['b', 'g', 't', 'd'], dtype: 'f16' }, 't', 's'),
      appendWordsPlan({ name: '(x', axes: [...odd], dtype: 'f16' }, 'loop', 'bad name'),
    ],
    [
      appendInt8Plan({ name: 'x', axes: ['b', 'g', 't', 'd'], dtype: 'i8' }, 't', 's'),
      appendInt8Plan({ name: 'x', axes: [...odd], dtype: 'i8' }, 'loop', 'bad name'),
    ],
    [
      appendPagedPlan({ name: 'x', axes: ['n', 'g', 'blk', 'd'], dtype: 'f32' }, 's'),
      appendPagedPlan({ name: 'x', axes: ['fn', 'var', 'blk', 'exp'], dtype: 'f32' }, 'bad name', 'loop', 'let'),
    ],
    [advancePlan('b'), advancePlan('let x')],
  ] as const;
  for (const [plain, named] of pairs) {
    expect(named.kernels[0]!.wgsl).toBe(plain.kernels[0]!.wgsl);
    expect(named.kernels[0]!.uniforms).not.toEqual(plain.kernels[0]!.uniforms);
  }
});
