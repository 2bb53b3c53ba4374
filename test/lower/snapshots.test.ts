/**
 * One kernel of each kind, pinned as inline WGSL at a tiny schedule (TypeGPU style): a change
 * to the emitted text shows here as a readable diff. Sizes are static where that keeps the
 * kernel short; the GPU tests check what these kernels compute.
 */
import { expect, test } from 'vitest';
import { einsum, graph, index, input, type Graph } from '../../src/index.ts';
import { lower, type LowerOptions } from '../../src/lower/index.ts';

/** softmax(q·kᵀ · 0.5, mask?) · v over one row axis s, keys t, head dims d = e = 2. */
function tiny(causal: boolean): Graph {
  const q = input('q', 's d');
  const k = input('k', 't d');
  const v = input('v', 't e');
  const scores = einsum('s d, t d -> s t', q, k).mul(0.5);
  const p = scores.softmax('t', causal ? { mask: index('t').le(index('s')) } : {});
  return graph('tiny', { o: einsum('s t, t e -> s e', p, v) }, { sizes: { d: 2, e: 2 } });
}

const kernel = (g: Graph, opts: LowerOptions, suffix: string) => {
  const k = lower(g, opts).kernels.find((x) => x.name.endsWith(suffix));
  if (!k) throw new Error(`no kernel ending in ${suffix}`);
  return k.wgsl;
};
const one = { rows: 1, kvTile: 2, workgroup: 1, split: 1 } as const;

test('flash: one row per invocation, KV tiles of 2 keys', () => {
  expect(kernel(tiny(false), { flashSchedule: one }, '_flash')).toMatchInlineSnapshot(`
    "// einattn kernel tiny_0_flash (graph 'tiny', kernel 1)
    // o[s e] = einsum('s t, t e -> s e', softmax((einsum('s d, t d -> s t', q, k) * 0.5), 't'), v)
    // scores = (einsum('s d, t d -> s t', q, k) * 0.5)
    // axes: batch [], rows [s], kv 't', qk dims [d], v dims [e]
    // schedule: 1 row x 1 invocations per workgroup (1 query rows of [s]), KV tile 2 of 't' streamed through registers with an online softmax,
    //   value columns 2 per invocation, no workgroup memory

    struct _Sizes { t: u32, s: u32 }
    @group(0) @binding(0) var<storage, read> q: array<f32>;
    @group(0) @binding(1) var<storage, read> k: array<f32>;
    @group(0) @binding(2) var<storage, read> v: array<f32>;
    @group(0) @binding(3) var<storage, read_write> o: array<f32>;
    @group(0) @binding(4) var<uniform> _sz: _Sizes;

    fn _f32_bits(b: u32) -> f32 { return bitcast<f32>(b); }

    @compute @workgroup_size(1)
    fn tiny_0_flash(@builtin(workgroup_id) _wid: vec3u, @builtin(num_workgroups) _nwg: vec3u, @builtin(local_invocation_index) _lid: u32) {
      let _wg = _wid.x + (_wid.y + _wid.z * _nwg.y) * _nwg.x;
      if (_wg >= _sz.s) { return; }
      let _rblk = _wg % _sz.s;
      let _row0_ = _rblk + _lid;
      let _s_0_ = min(_row0_, _sz.s - 1u);
      var _m0_: f32 = _f32_bits(0xff800000u);
      var _l0_: f32 = 0.0;
      var _acc0_: array<f32, 2>;
      var _s0_: array<f32, 2>;
      var _q0_: array<f32, 2>;
      for (var _d: u32 = 0u; _d < 2u; _d++) {
        let _q0 = q[_s_0_ * 2u + _d];
        _q0_[_d] = _q0;
      }
      let _hi = (_sz.t + 1u) / 2u;
      for (var _tile = 0u; _tile < _hi; _tile++) {
        let _t0_ = _tile * 2u;
        for (var _j = 0u; _j < 2u; _j++) {
          let _t = min(_t0_ + _j, _sz.t - 1u);
          var _dot0_ = 0.0;
          for (var _d: u32 = 0u; _d < 2u; _d++) {
            let _kv = k[_t * 2u + _d];
            _dot0_ += _q0_[_d] * _kv;
          }
          _s0_[_j] = _dot0_;
        }
        for (var _j = 0u; _j < 2u; _j++) {
          let _t = min(_t0_ + _j, _sz.t - 1u);
          let _ok0_ = _t0_ + _j < _sz.t;
          let _v2 = (_s0_[_j] * 0.5);
          _s0_[_j] = select(_f32_bits(0xff800000u), _v2, _ok0_);
        }
        var _mt0_ = _m0_;
        for (var _j = 0u; _j < 2u; _j++) { _mt0_ = max(_mt0_, _s0_[_j]); }
        let _alpha0_ = select(exp(_m0_ - _mt0_), 1.0, _mt0_ == _f32_bits(0xff800000u));
        var _ps0_ = 0.0;
        for (var _j = 0u; _j < 2u; _j++) {
          let _p0_ = select(exp(_s0_[_j] - _mt0_), 0.0, _s0_[_j] == _f32_bits(0xff800000u));
          _s0_[_j] = _p0_;
          _ps0_ += _p0_;
        }
        _l0_ = _l0_ * _alpha0_ + _ps0_;
        _m0_ = _mt0_;
        for (var _c = 0u; _c < 2u; _c++) {
          let _e = _c;
          var _o0_ = _acc0_[_c] * _alpha0_;
          for (var _j = 0u; _j < 2u; _j++) {
            let _t = min(_t0_ + _j, _sz.t - 1u);
            let _v3 = v[_t * 2u + _e];
            _o0_ += _s0_[_j] * _v3;
          }
          _acc0_[_c] = _o0_;
        }
      }
      if (_row0_ < _sz.s) {
        let _inv0_ = select(0.0, 1.0 / _l0_, _l0_ > 0.0);
        for (var _c = 0u; _c < 2u; _c++) {
          let _e = _c;
          o[_s_0_ * 2u + _e] = (_acc0_[_c] * _inv0_);
        }
      }
    }
    "
  `);
});

test('flash with lanes: two invocations share a row tile and merge through workgroup memory', () => {
  expect(kernel(tiny(false), { flashSchedule: { ...one, workgroup: 2, kvLanes: 2 } }, '_flash')).toMatchInlineSnapshot(`
    "// einattn kernel tiny_0_flash (graph 'tiny', kernel 1)
    // o[s e] = einsum('s t, t e -> s e', softmax((einsum('s d, t d -> s t', q, k) * 0.5), 't'), v)
    // scores = (einsum('s d, t d -> s t', q, k) * 0.5)
    // axes: batch [], rows [s], kv 't', qk dims [d], v dims [e]
    // schedule: 1 row x 1 invocations per workgroup (1 query rows of [s]), 2 invocations per row tile each streaming every 2th KV tile,
    //   KV tile 2 of 't' streamed through registers with an online softmax, value columns 2 per invocation, lanes merged through workgroup memory (one barrier)

    struct _Sizes { t: u32, s: u32 }
    @group(0) @binding(0) var<storage, read> q: array<f32>;
    @group(0) @binding(1) var<storage, read> k: array<f32>;
    @group(0) @binding(2) var<storage, read> v: array<f32>;
    @group(0) @binding(3) var<storage, read_write> o: array<f32>;
    @group(0) @binding(4) var<uniform> _sz: _Sizes;

    var<workgroup> _wm: array<f32, 2>;
    var<workgroup> _wl: array<f32, 2>;
    var<workgroup> _wmax: array<f32, 1>;
    var<workgroup> _wacc: array<f32, 4>;

    fn _f32_bits(b: u32) -> f32 { return bitcast<f32>(b); }

    @compute @workgroup_size(2)
    fn tiny_0_flash(@builtin(workgroup_id) _wid: vec3u, @builtin(num_workgroups) _nwg: vec3u, @builtin(local_invocation_index) _lid: u32) {
      let _wg = _wid.x + (_wid.y + _wid.z * _nwg.y) * _nwg.x;
      if (_wg >= _sz.s) { return; }
      let _rblk = _wg % _sz.s;
      let _lane = _lid % 2u;
      let _rinv = _lid / 2u;
      let _row0_ = _rblk + _rinv;
      let _s_0_ = min(_row0_, _sz.s - 1u);
      var _m0_: f32 = _f32_bits(0xff800000u);
      var _l0_: f32 = 0.0;
      var _acc0_: array<f32, 2>;
      var _s0_: array<f32, 2>;
      var _q0_: array<f32, 2>;
      for (var _d: u32 = 0u; _d < 2u; _d++) {
        let _q0 = q[_s_0_ * 2u + _d];
        _q0_[_d] = _q0;
      }
      let _hi = (_sz.t + 1u) / 2u;
      for (var _tile = _lane; _tile < _hi; _tile += 2u) {
        let _t0_ = _tile * 2u;
        for (var _j = 0u; _j < 2u; _j++) {
          let _t = min(_t0_ + _j, _sz.t - 1u);
          var _dot0_ = 0.0;
          for (var _d: u32 = 0u; _d < 2u; _d++) {
            let _kv = k[_t * 2u + _d];
            _dot0_ += _q0_[_d] * _kv;
          }
          _s0_[_j] = _dot0_;
        }
        for (var _j = 0u; _j < 2u; _j++) {
          let _t = min(_t0_ + _j, _sz.t - 1u);
          let _ok0_ = _t0_ + _j < _sz.t;
          let _v2 = (_s0_[_j] * 0.5);
          _s0_[_j] = select(_f32_bits(0xff800000u), _v2, _ok0_);
        }
        var _mt0_ = _m0_;
        for (var _j = 0u; _j < 2u; _j++) { _mt0_ = max(_mt0_, _s0_[_j]); }
        let _alpha0_ = select(exp(_m0_ - _mt0_), 1.0, _mt0_ == _f32_bits(0xff800000u));
        var _ps0_ = 0.0;
        for (var _j = 0u; _j < 2u; _j++) {
          let _p0_ = select(exp(_s0_[_j] - _mt0_), 0.0, _s0_[_j] == _f32_bits(0xff800000u));
          _s0_[_j] = _p0_;
          _ps0_ += _p0_;
        }
        _l0_ = _l0_ * _alpha0_ + _ps0_;
        _m0_ = _mt0_;
        for (var _c = 0u; _c < 2u; _c++) {
          let _e = _c;
          var _o0_ = _acc0_[_c] * _alpha0_;
          for (var _j = 0u; _j < 2u; _j++) {
            let _t = min(_t0_ + _j, _sz.t - 1u);
            let _v3 = v[_t * 2u + _e];
            _o0_ += _s0_[_j] * _v3;
          }
          _acc0_[_c] = _o0_;
        }
      }
      _wm[_rinv * 2u + _lane] = _m0_;
      _wl[_rinv * 2u + _lane] = _l0_;
      for (var _c = 0u; _c < 2u; _c++) { _wacc[((_rinv * 2u + _lane)) * 2u + _c] = _acc0_[_c]; }
      workgroupBarrier();
      if (_lane == 0u) {
        for (var _rr = 0u; _rr < 1u; _rr++) {
          var _mm = _f32_bits(0xff800000u);
          for (var _q = 0u; _q < 2u; _q++) { _mm = max(_mm, _wm[_rinv * 2u + _q + _rr]); }
          var _ll = 0.0;
          for (var _q = 0u; _q < 2u; _q++) {
            let _sl = (_rinv * 2u + _q + _rr);
            let _fq = select(exp(_wm[_sl] - _mm), 0.0, _wm[_sl] == _f32_bits(0xff800000u));
            _ll += _wl[_sl] * _fq;
            // from here on: the lane's weight
            _wm[_sl] = _fq;
          }
          for (var _c = 0u; _c < 2u; _c++) {
            var _ov = 0.0;
            for (var _q = 0u; _q < 2u; _q++) { _ov += _wacc[(_rinv * 2u + _q + _rr) * 2u + _c] * _wm[_rinv * 2u + _q + _rr]; }
            _wacc[(_rinv * 2u + _rr) * 2u + _c] = _ov;
          }
          _wl[_rinv * 2u + _rr] = _ll;
          _wmax[_rinv + _rr] = _mm;
        }
        _m0_ = _wmax[_rinv];
        _l0_ = _wl[_rinv * 2u];
        for (var _c = 0u; _c < 2u; _c++) { _acc0_[_c] = _wacc[_rinv * 2u * 2u + _c]; }
      }
      if (_lane == 0u) {
        if (_row0_ < _sz.s) {
          let _inv0_ = select(0.0, 1.0 / _l0_, _l0_ > 0.0);
          for (var _c = 0u; _c < 2u; _c++) {
            let _e = _c;
            o[_s_0_ * 2u + _e] = (_acc0_[_c] * _inv0_);
          }
        }
      }
    }
    "
  `);
});

test('split-KV merge: the partial outputs combined by their log-sum-exp', () => {
  expect(kernel(tiny(false), { flashSchedule: { ...one, split: 2 } }, '_merge')).toMatchInlineSnapshot(`
    "// einattn kernel tiny_0_flash (graph 'tiny', kernel 1)
    // o[s e] = einsum('s t, t e -> s e', softmax((einsum('s d, t d -> s t', q, k) * 0.5), 't'), v)
    // scores = (einsum('s d, t d -> s t', q, k) * 0.5)
    // axes: batch [], rows [s], kv 't', qk dims [d], v dims [e]
    // split-KV merge over 2 splits: o = sum_i exp(lse_i - max) o_i / sum_i exp(lse_i - max), then the epilogue

    struct _Sizes { s: u32 }
    @group(0) @binding(0) var<storage, read> _opart: array<f32>;
    @group(0) @binding(1) var<storage, read> _lsepart: array<f32>;
    @group(0) @binding(2) var<storage, read_write> o: array<f32>;
    @group(0) @binding(3) var<uniform> _sz: _Sizes;

    fn _f32_bits(b: u32) -> f32 { return bitcast<f32>(b); }

    @compute @workgroup_size(64)
    fn tiny_0_flash_merge(@builtin(workgroup_id) _wid: vec3u, @builtin(num_workgroups) _nwg: vec3u, @builtin(local_invocation_index) _lid: u32) {
      let _gid = (_wid.x + (_wid.y + _wid.z * _nwg.y) * _nwg.x) * 64u + _lid;
      if (_gid >= _sz.s * 2u) { return; }
      var _rest = _gid;
      let _dv = _rest % 2u;
      _rest = _rest / 2u;
      let _row = _rest % _sz.s;
      _rest = _rest / _sz.s;
      let _bflat = _rest;
      var _mx: f32 = _f32_bits(0xff800000u);
      for (var _sp = 0u; _sp < 2u; _sp++) { _mx = max(_mx, _lsepart[(_sp + _bflat) * _sz.s + _row]); }
      var _den = 0.0;
      var _acc = 0.0;
      for (var _sp = 0u; _sp < 2u; _sp++) {
        let _lse = _lsepart[(_sp + _bflat) * _sz.s + _row];
        if (_lse != _f32_bits(0xff800000u)) {
          let _w = exp(_lse - _mx);
          _den += _w;
          _acc += _w * _opart[((_sp + _bflat) * _sz.s + _row) * 2u + _dv];
        }
      }
      let _o = select(0.0, _acc / _den, _den > 0.0);
      o[_row * 2u + _dv] = _o;
    }
    "
  `);
});

test('block map: a code per (row block, KV tile) from the causal mask', () => {
  expect(kernel(tiny(true), { flashSchedule: one }, '_blocks')).toMatchInlineSnapshot(`
    "// einattn kernel tiny_0_flash (graph 'tiny', kernel 1)
    // o[s e] = einsum('s t, t e -> s e', softmax((einsum('s d, t d -> s t', q, k) * 0.5), 't', mask=(t <= s)), v)
    // scores = (einsum('s d, t d -> s t', q, k) * 0.5)
    // mask = (t <= s)
    // axes: batch [], rows [s], kv 't', qk dims [d], v dims [e]
    // block mask: code per (1 rows, 2 keys of 't'): 0 empty, 1 partial, 2 full; the mask is evaluated exactly per element,
    //   so its meaning never depends on the tiling

    struct _Sizes { s: u32, t: u32 }
    @group(0) @binding(0) var<storage, read_write> _blocks: array<i32>;
    @group(0) @binding(1) var<uniform> _sz: _Sizes;

    @compute @workgroup_size(64)
    fn tiny_0_flash_blocks(@builtin(workgroup_id) _wid: vec3u, @builtin(num_workgroups) _nwg: vec3u, @builtin(local_invocation_index) _lid: u32) {
      let _gid = (_wid.x + (_wid.y + _wid.z * _nwg.y) * _nwg.x) * 64u + _lid;
      if (_gid >= _sz.s * ((_sz.t + 1u) / 2u)) { return; }
      var _rest = _gid;
      let _tile = _rest % ((_sz.t + 1u) / 2u);
      _rest = _rest / ((_sz.t + 1u) / 2u);
      let _rblk = _rest;
      var _any = false;
      var _all = true;
      for (var _i = 0u; _i < 1u; _i++) {
        let _row = _rblk + _i;
        if (_row >= _sz.s) { break; }
        for (var _j = 0u; _j < 2u; _j++) {
          let _t = _tile * 2u + _j;
          if (_t >= _sz.t) { break; }
          let _v0 = (i32(_t) <= i32(_row));
          _any = _any || _v0;
          _all = _all && _v0;
        }
        if (_any && !_all) { break; }
      }
      _blocks[_gid] = select(select(1i, 2i, _all), 0i, !_any);
    }
    "
  `);
});

test('contraction: a 2x2 register tile with a fused scale', () => {
  const g = graph('mm', { c: einsum('i k, k j -> i j', input('a', 'i k'), input('b', 'k j')).mul(0.5) }, { sizes: { k: 2 } });
  expect(kernel(g, { tile: [2, 2] }, '_einsum')).toMatchInlineSnapshot(`
    "// einattn kernel mm_0_einsum (graph 'mm', kernel 1)
    // c[i j] = (einsum('i k, k j -> i j', a, b) * 0.5)
    // schedule: register tile 2x2 over (i, j), loop over (k), one tile per invocation, 64 per workgroup

    struct _Sizes { i: u32, j: u32 }
    @group(0) @binding(0) var<storage, read> a: array<f32>;
    @group(0) @binding(1) var<storage, read> b: array<f32>;
    @group(0) @binding(2) var<storage, read_write> c: array<f32>;
    @group(0) @binding(3) var<uniform> _sz: _Sizes;

    @compute @workgroup_size(64)
    fn mm_0_einsum(@builtin(workgroup_id) _wid: vec3u, @builtin(num_workgroups) _nwg: vec3u, @builtin(local_invocation_index) _lid: u32) {
      let _gid = (_wid.x + (_wid.y + _wid.z * _nwg.y) * _nwg.x) * 64u + _lid;
      if (_gid >= (_sz.i + 1u) / 2u * ((_sz.j + 1u) / 2u)) { return; }
      var _rest = _gid;
      let _j_tile = _rest % ((_sz.j + 1u) / 2u);
      _rest = _rest / ((_sz.j + 1u) / 2u);
      let _i_tile = _rest;
      let _i0 = min(_i_tile * 2u, _sz.i - 1u);
      let _i1 = min(_i_tile * 2u + 1u, _sz.i - 1u);
      let _j0 = min(_j_tile * 2u, _sz.j - 1u);
      let _j1 = min(_j_tile * 2u + 1u, _sz.j - 1u);
      var _acc00: f32 = 0.0;
      var _acc01: f32 = 0.0;
      var _acc10: f32 = 0.0;
      var _acc11: f32 = 0.0;
      for (var _k: u32 = 0u; _k < 2u; _k++) {
        let _a0 = a[_i0 * 2u + _k];
        let _b1 = b[_k * _sz.j + _j0];
        let _b2 = b[_k * _sz.j + _j1];
        let _a3 = a[_i1 * 2u + _k];
        _acc00 += _a0 * _b1;
        _acc01 += _a0 * _b2;
        _acc10 += _a3 * _b1;
        _acc11 += _a3 * _b2;
      }
      if (_i_tile * 2u < _sz.i && _j_tile * 2u < _sz.j) {
        let _v4 = (_acc00 * 0.5);
        c[_i0 * _sz.j + _j0] = _v4;
      }
      if (_i_tile * 2u < _sz.i && _j_tile * 2u + 1u < _sz.j) {
        let _v5 = (_acc01 * 0.5);
        c[_i0 * _sz.j + _j1] = _v5;
      }
      if (_i_tile * 2u + 1u < _sz.i && _j_tile * 2u < _sz.j) {
        let _v6 = (_acc10 * 0.5);
        c[_i1 * _sz.j + _j0] = _v6;
      }
      if (_i_tile * 2u + 1u < _sz.i && _j_tile * 2u + 1u < _sz.j) {
        let _v7 = (_acc11 * 0.5);
        c[_i1 * _sz.j + _j1] = _v7;
      }
    }
    "
  `);
});

test('softmax: one row per invocation, masked, three passes', () => {
  expect(kernel(tiny(true), { flash: false }, '_softmax')).toMatchInlineSnapshot(`
    "// einattn kernel tiny_1_softmax (graph 'tiny', kernel 2)
    // _softmax1[s t] = softmax(_einsum0, 't', mask=(t <= s))
    // schedule: one invocation per row of 't', three passes (max, sum, write), 64 per workgroup

    struct _Sizes { s: u32, t: u32 }
    @group(0) @binding(0) var<storage, read> _einsum0: array<f32>;
    @group(0) @binding(1) var<storage, read_write> _softmax1: array<f32>;
    @group(0) @binding(2) var<uniform> _sz: _Sizes;

    fn _f32_bits(b: u32) -> f32 { return bitcast<f32>(b); }

    @compute @workgroup_size(64)
    fn tiny_1_softmax(@builtin(workgroup_id) _wid: vec3u, @builtin(num_workgroups) _nwg: vec3u, @builtin(local_invocation_index) _lid: u32) {
      let _gid = (_wid.x + (_wid.y + _wid.z * _nwg.y) * _nwg.x) * 64u + _lid;
      if (_gid >= _sz.s) { return; }
      var _row_max: f32 = _f32_bits(0xff800000u);
      for (var _t: u32 = 0u; _t < _sz.t; _t++) {
        let _einsum00 = _einsum0[_gid * _sz.t + _t];
        let _v1 = (i32(_t) <= i32(_gid));
        let _live2 = _v1 && _einsum00 != _f32_bits(0xff800000u);
        if (_live2) { _row_max = max(_row_max, _einsum00); }
      }
      var _row_sum: f32 = 0.0;
      for (var _t: u32 = 0u; _t < _sz.t; _t++) {
        let _einsum03 = _einsum0[_gid * _sz.t + _t];
        let _v4 = (i32(_t) <= i32(_gid));
        let _live5 = _v4 && _einsum03 != _f32_bits(0xff800000u);
        if (_live5) { _row_sum += exp(_einsum03 - _row_max); }
      }
      for (var _t: u32 = 0u; _t < _sz.t; _t++) {
        let _einsum06 = _einsum0[_gid * _sz.t + _t];
        let _v7 = (i32(_t) <= i32(_gid));
        let _live8 = _v7 && _einsum06 != _f32_bits(0xff800000u);
        let _p9 = select(0.0, exp(_einsum06 - _row_max) / _row_sum, _live8);
        _softmax1[_gid * _sz.t + _t] = _p9;
      }
    }
    "
  `);
});

test('pointwise: one invocation per element', () => {
  const x = input('x', 'i j');
  expect(kernel(graph('pw', { y: x.exp().add(index('j').cast('f32')) }), {}, '_map')).toMatchInlineSnapshot(`
    "// einattn kernel pw_0_map (graph 'pw', kernel 1)
    // y[i j] = (exp(x) + f32(j))
    // schedule: elementwise, one invocation per element, 64 per workgroup

    struct _Sizes { i: u32, j: u32 }
    @group(0) @binding(0) var<storage, read> x: array<f32>;
    @group(0) @binding(1) var<storage, read_write> y: array<f32>;
    @group(0) @binding(2) var<uniform> _sz: _Sizes;

    @compute @workgroup_size(64)
    fn pw_0_map(@builtin(workgroup_id) _wid: vec3u, @builtin(num_workgroups) _nwg: vec3u, @builtin(local_invocation_index) _lid: u32) {
      let _gid = (_wid.x + (_wid.y + _wid.z * _nwg.y) * _nwg.x) * 64u + _lid;
      if (_gid >= _sz.i * _sz.j) { return; }
      var _rest = _gid;
      let _j = _rest % _sz.j;
      _rest = _rest / _sz.j;
      let _i = _rest;
      let _x0 = x[_i * _sz.j + _j];
      let _v1 = exp(_x0);
      let _v2 = f32(i32(_j));
      let _v3 = (_v1 + _v2);
      y[_i * _sz.j + _j] = _v3;
    }
    "
  `);
});

test('scan: one invocation per row, one pass keeping the running sum, a fused operand and epilogue', () => {
  const x = input('x', 'r t');
  expect(kernel(graph('sc', { c: x.mul(2).cumsum('t').add(1) }), {}, '_scan')).toMatchInlineSnapshot(`
    "// einattn kernel sc_0_scan (graph 'sc', kernel 1)
    // c[r t] = (cumsum((x * 2), 't') + 1)
    // schedule: one invocation per row of 't', one pass keeping the running sum (f32), 64 per workgroup

    struct _Sizes { r: u32, t: u32 }
    @group(0) @binding(0) var<storage, read> x: array<f32>;
    @group(0) @binding(1) var<storage, read_write> c: array<f32>;
    @group(0) @binding(2) var<uniform> _sz: _Sizes;

    @compute @workgroup_size(64)
    fn sc_0_scan(@builtin(workgroup_id) _wid: vec3u, @builtin(num_workgroups) _nwg: vec3u, @builtin(local_invocation_index) _lid: u32) {
      let _gid = (_wid.x + (_wid.y + _wid.z * _nwg.y) * _nwg.x) * 64u + _lid;
      if (_gid >= _sz.r) { return; }
      var _acc: f32 = 0.0;
      for (var _t: u32 = 0u; _t < _sz.t; _t++) {
        let _x0 = x[_gid * _sz.t + _t];
        let _v1 = (_x0 * 2.0);
        _acc += _v1;
        let _v2 = (_acc + 1.0);
        c[_gid * _sz.t + _t] = _v2;
      }
    }
    "
  `);
});

test('top-k: one invocation per row, k passes each taking the next largest', () => {
  const x = input('x', 'r m');
  expect(kernel(graph('tk', { i: x.topk('m', 2, 'j') }), {}, '_topk')).toMatchInlineSnapshot(`
    "// einattn kernel tk_0_topk (graph 'tk', kernel 1)
    // i[r j] = topk(x, 'm', 2, 'j')
    // schedule: one invocation per row of 'm', 2 passes (the next largest each), 64 per workgroup

    struct _Sizes { r: u32, m: u32 }
    @group(0) @binding(0) var<storage, read> x: array<f32>;
    @group(0) @binding(1) var<storage, read_write> i: array<i32>;
    @group(0) @binding(2) var<uniform> _sz: _Sizes;

    fn _f32_bits(b: u32) -> f32 { return bitcast<f32>(b); }

    fn _is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }

    @compute @workgroup_size(64)
    fn tk_0_topk(@builtin(workgroup_id) _wid: vec3u, @builtin(num_workgroups) _nwg: vec3u, @builtin(local_invocation_index) _lid: u32) {
      let _gid = (_wid.x + (_wid.y + _wid.z * _nwg.y) * _nwg.x) * 64u + _lid;
      if (_gid >= _sz.r) { return; }
      var _prev_val: f32 = _f32_bits(0x7f800000u);
      var _prev_at: i32 = -1i;
      for (var _j: u32 = 0u; _j < 2u; _j++) {
        var _best_val: f32 = 0.0;
        var _best_at: i32 = -1i;
        for (var _m: u32 = 0u; _m < _sz.m; _m++) {
          let _x0 = x[_gid * _sz.m + _m];
          let _key = select(_x0, _f32_bits(0xff800000u), _is_nan(_x0));
          if ((_key < _prev_val || (_key == _prev_val && i32(_m) > _prev_at)) && (_best_at < 0i || _key > _best_val)) {
            _best_val = _key;
            _best_at = i32(_m);
          }
        }
        i[_gid * 2u + _j] = _best_at;
        if (_best_at >= 0i) {
          _prev_val = _best_val;
          _prev_at = _best_at;
        }
      }
    }
    "
  `);
});
