// Rotary position embedding as a DSL op, in both conventions; scores of rotated queries
// and keys depend only on the distance between positions.
// Run: npx tsx examples/rope.ts
import { einsum, graph, input, interpret, printGraph, rope } from 'einattn';

const [s, d] = [6, 8];
const x = Float32Array.from({ length: s * d }, (_, i) => (i % d === 0 ? 1 : 0)); // e_0 at every position
for (const style of ['half', 'interleaved'] as const) {
  const g = graph(`rope_${style}`, { o: rope(input('x', 's d'), { style }) });
  const o = interpret(g, { x }, { s, d }).o!;
  console.log(`\n${style}: e_0 rotated by position (pairs with element ${style === 'half' ? d / 2 : 1})`);
  for (let i = 0; i < s; i++) console.log(`  s=${i}: ${Array.from(o.data.slice(i * d, (i + 1) * d), (v) => v.toFixed(3).padStart(6)).join(' ')}`);
}

// q at position i, k at position j: the score depends on i - j only
const q = rope(input('q', 's d'));
const k = rope(input('k', 't d'), { pos: 't' });
const scores = graph('rope_scores', { o: einsum('s d, t d -> s t', q, k) });
console.log(`\n${printGraph(scores)}`);
const v = Float32Array.from({ length: s * d }, (_, i) => Math.cos(i % d)); // the same vector at every position
const o = interpret(scores, { q: v, k: v }, { s, t: s, d }).o!;
console.log('\nscores q_i · k_j (constant along diagonals):');
for (let i = 0; i < s; i++) console.log(`  ${Array.from(o.data.slice(i * s, (i + 1) * s), (x) => x.toFixed(3).padStart(7)).join(' ')}`);
