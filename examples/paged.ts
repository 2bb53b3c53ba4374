// GQA over a paged KV cache (vLLM-style): K/V live in blocks of a shared pool, each
// sequence lists its blocks in a block table, kv_len says how many tokens are valid.
// Run: npx tsx examples/paged.ts
import { checkLengths, gqa, interpret, paged, printGraph } from 'einattn';

const [b, h, g, s, d, blk, m] = [2, 4, 2, 1, 4, 2, 3]; // capacity t = m * blk = 6 per sequence
const n = 7; // blocks in the pool
const blockTable = Int32Array.from([5, 0, 3, /* sequence 1: */ 1, 6, 2]);
const kvLen = Int32Array.from([5, 3]); // ragged lengths

const wave = (len: number, phase: number) => Float32Array.from({ length: len }, (_, i) => Math.sin(i * 0.37 + phase));
const kCache = wave(n * g * blk * d, 1); // [n g blk d]
const vCache = wave(n * g * blk * d, 2);
const q = wave(b * h * s * d, 3);

const g1 = paged({ causal: true });
console.log(printGraph(g1));
const inputs = { q, k_cache: kCache, v_cache: vCache, block_table: blockTable, kv_len: kvLen };
const dims = { b, h, g, s, n, blk, m, d, dv: d };
checkLengths(g1, inputs, dims); // kv_len within 0..capacity, else a clear error
const o = interpret(g1, inputs, dims).o!;

// the same through a contiguous cache gathered by hand: [b g t d], token j in block table[b, j / blk]
const t = m * blk;
const contiguous = (cache: Float32Array) =>
  Float32Array.from({ length: b * g * t * d }, (_, i) => {
    const [bi, gi, j, c] = [Math.floor(i / (g * t * d)), Math.floor(i / (t * d)) % g, Math.floor(i / d) % t, i % d];
    return cache[((blockTable[bi * m + Math.floor(j / blk)]! * g + gi) * blk + (j % blk)) * d + c]!;
  });
const ref = interpret(gqa({ causal: true, cache: true }), { q, k: contiguous(kCache), v: contiguous(vCache), kv_len: kvLen }, { b, h, g, s, t, d, dv: d }).o!;
console.log(`\npaged vs contiguous: max |difference| = ${Math.max(...o.data.map((x, i) => Math.abs(x - ref.data[i]!))).toExponential(2)}`);
for (let i = 0; i < b * h; i++)
  console.log(`b=${Math.floor(i / h)} h=${i % h}: ${Array.from(o.data.slice(i * d, (i + 1) * d), (x) => x.toFixed(4)).join(' ')}`);

try {
  checkLengths(g1, { ...inputs, kv_len: Int32Array.from([7, 3]) }, dims);
} catch (e) {
  console.log(`\nkv_len past the capacity: ${(e as Error).message}`);
}
