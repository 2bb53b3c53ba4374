// A small decoder-only transformer that generates tokens entirely on the GPU: embedding,
// RMSNorm, projections as einsums, RoPE, GQA attention over a KV cache that lives on the
// device, a ReLU MLP, logits and a greedy argmax, all as einattn graphs. Each step is one
// submission (embed → per layer: project, append to the cache, attend, MLP → logits → next
// token); the next token never leaves the GPU. Afterwards every step's logits are checked
// against the interpreter running the whole sequence through the same weights.
// Run: npx tsx examples/decode-loop.ts [tokens]
import { compile, einsum, graph, gqa, index, input, interpret, rope, size, where, type Tensor } from 'einattn';
import { closeRuntime, getRuntime, KvCache, Session, upload, zeros, type DeviceTensor } from 'einattn/runtime';

const [V, E, H, G, D, F, L] = [96, 64, 4, 2, 16, 128, 2]; // vocab, model, heads, KV heads, head dim, MLP, layers
const prompt = [3, 14, 15, 92, 65, 35];
const steps = Number(process.argv[2] ?? 24);
const T = prompt.length + steps; // cache capacity
const dims = { b: 1, s: 1, t: T, e: E, h: H, g: G, d: D, dv: D, f: F, v: V };

// ---- the model, written in the DSL --------------------------------------------------
const rms = (x: Tensor<['b', 's', 'e']>, gain: Tensor<['e']>) => x.mul(x.mul(x).sum('e').div(size('e')).add(1e-6).rsqrt()).mul(gain);
const mlp = (x: Tensor<['b', 's', 'e']>) =>
  einsum('b s f, f e -> b s e', einsum('b s e, e f -> b s f', rms(x, input('g2', 'e')), input('w1', 'e f')).maximum(0), input('w2', 'f e'));
/** q, k, v of one token at position kv_len[b] (before its append), RoPE on q and k */
const project = graph(
  'project',
  (() => {
    const xn = rms(input('x', 'b s e'), input('g1', 'e'));
    const pos = input('kv_len', 'b', 'i32').add(index('s'));
    return {
      q: rope(einsum('b s e, e h d -> b h s d', xn, input('wq', 'e h d')), { pos }),
      k: rope(einsum('b s e, e g d -> b g s d', xn, input('wk', 'e g d')), { pos }),
      v: einsum('b s e, e g d -> b g s d', xn, input('wv', 'e g d')).rename('d', 'dv'),
    };
  })(),
);
/** the residual stream after attention (its output o) and the MLP */
const finish = graph(
  'finish',
  (() => {
    const x1 = input('x', 'b s e').add(einsum('b h s dv, h dv e -> b s e', input('o', 'b h s dv'), input('wo', 'h dv e')));
    return { x_next: x1.add(mlp(x1)) };
  })(),
);
const embed = graph('embed', { x: input('emb', 'v e').gather('v', input('token', 'b s', 'i32')) });
/** logits, and the greedy next token (the largest index among the maxima) */
const head = graph(
  'head',
  (() => {
    const logits = einsum('b s e, e v -> b s v', rms(input('x', 'b s e'), input('gf', 'e')), input('wout', 'e v'));
    return { logits, next: where(logits.eq(logits.max('v')), index('v'), -1).max('v') };
  })(),
);

// the reference: the whole sequence at once (causal GQA, positions 0..n-1), for the interpreter
function reference(n: number) {
  let x: Tensor<['b', 's', 'e']> = input('emb', 'v e').gather('v', input('tokens', 'b s', 'i32'));
  for (let l = 0; l < L; l++) {
    const w = <const S extends string>(name: string, axes: S) => input(`${name}_${l}`, axes);
    const xn = rms(x, w('g1', 'e'));
    const q = rope(einsum('b s e, e h d -> b h s d', xn, w('wq', 'e h d')));
    const k = rope(einsum('b s e, e g d -> b g s d', xn, w('wk', 'e g d')).rename('s', 't'), { pos: 't' });
    const v = einsum('b s e, e g d -> b g s d', xn, w('wv', 'e g d')).rename('s', 't').rename('d', 'dv');
    const p = einsum('b g r s d, b g t d -> b g r s t', q.split('h', 'g r'), k)
      .mul(size('d').rsqrt())
      .softmax('t', { mask: index('t').le(index('s')) });
    const o = einsum('b g r s t, b g t dv -> b g r s dv', p, v).merge('g r', 'h');
    const x1 = x.add(einsum('b h s dv, h dv e -> b s e', o, w('wo', 'h dv e')));
    const h1 = einsum('b s e, e f -> b s f', rms(x1, w('g2', 'e')), w('w1', 'e f')).maximum(0);
    x = x1.add(einsum('b s f, f e -> b s e', h1, w('w2', 'f e')));
  }
  return graph(`model_${n}`, { logits: einsum('b s e, e v -> b s v', rms(x, input('gf', 'e')), input('wout', 'e v')) });
}

// ---- weights: seeded, scaled by 1/sqrt(fan-in) ------------------------------------------
let seed = 7;
const rand = (n: number, scale: number) => Float32Array.from({ length: n }, () => (((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1) * scale);
const layerW = Array.from({ length: L }, () => ({
  g1: rand(E, 0.1).map((x) => 1 + x),
  wq: rand(E * H * D, 1 / Math.sqrt(E)),
  wk: rand(E * G * D, 1 / Math.sqrt(E)),
  wv: rand(E * G * D, 1 / Math.sqrt(E)),
  wo: rand(H * D * E, 1 / Math.sqrt(H * D)),
  g2: rand(E, 0.1).map((x) => 1 + x),
  w1: rand(E * F, 1 / Math.sqrt(E)),
  w2: rand(F * E, 1 / Math.sqrt(F)),
}));
const top = { emb: rand(V * E, 1), gf: rand(E, 0.1).map((x) => 1 + x), wout: rand(E * V, 4 / Math.sqrt(E)) };

const rt = await getRuntime();
console.log(`adapter: ${rt.kind} ${rt.info.description}; ${L} layers, model ${E}, ${H} heads on ${G} KV heads of ${D}, vocab ${V}`);
try {
  const up = (data: Float32Array | Int32Array, axes: string, name: string) => upload(rt, data, axes, dims, name);
  const weights = layerW.map((w) => ({
    g1: up(w.g1, 'e', 'g1'),
    wq: up(w.wq, 'e h d', 'wq'),
    wk: up(w.wk, 'e g d', 'wk'),
    wv: up(w.wv, 'e g d', 'wv'),
    wo: up(w.wo, 'h dv e', 'wo'),
    g2: up(w.g2, 'e', 'g2'),
    w1: up(w.w1, 'e f', 'w1'),
    w2: up(w.w2, 'f e', 'w2'),
  }));
  const emb = up(top.emb, 'v e', 'emb');
  const [gf, wout] = [up(top.gf, 'e', 'gf'), up(top.wout, 'e v', 'wout')];
  const caches = weights.map(() => new KvCache(rt, { layout: 'gqa', dims }));
  // each graph runs at the sizes it has (a run refuses sizes its graph does not know)
  const kernels = [project, gqa({ causal: true, cache: true }), finish, embed, head].map((g) => {
    const c = compile(g);
    const own = Object.fromEntries(Object.entries(dims).filter(([k]) => g.sizes.includes(k)));
    return { run: (inputs: Parameters<typeof c.run>[0], opts: Parameters<typeof c.run>[2]) => c.run(inputs, own, opts) };
  });
  const [kProject, kAttend, kFinish, kEmbed, kHead] = kernels as [
    (typeof kernels)[0],
    (typeof kernels)[0],
    (typeof kernels)[0],
    (typeof kernels)[0],
    (typeof kernels)[0],
  ];
  // the step's working tensors, reused every step (outputs go into them: no allocation in the loop)
  const x = [zeros(rt, 'f32', 'b s e', dims, 'x0'), zeros(rt, 'f32', 'b s e', dims, 'x1')];
  const qkv = { q: zeros(rt, 'f32', 'b h s d', dims, 'q'), k: zeros(rt, 'f32', 'b g s d', dims, 'k'), v: zeros(rt, 'f32', 'b g s dv', dims, 'v') };
  const o = zeros(rt, 'f32', 'b h s dv', dims, 'o');
  const promptTokens = prompt.map((t) => up(Int32Array.of(t), 'b s', 'token'));
  const logits: DeviceTensor[] = [];
  const tokens: DeviceTensor[] = [];

  /** one token through the model: one submission */
  const step = async (token: DeviceTensor) => {
    const session = new Session(rt);
    await kEmbed.run({ emb, token }, { session, into: { x: x[0]! } });
    for (const [l, w] of weights.entries()) {
      const [xi, xo] = [x[l % 2]!, x[(l + 1) % 2]!];
      await kProject.run({ x: xi, g1: w.g1, wq: w.wq, wk: w.wk, wv: w.wv, kv_len: caches[l]!.kvLen }, { session, into: qkv });
      await caches[l]!.append({ k: qkv.k, v: qkv.v }, { session });
      await kAttend.run({ q: qkv.q, ...caches[l]!.inputs }, { session, into: { o } });
      await kFinish.run({ x: xi, o, wo: w.wo, g2: w.g2, w1: w.w1, w2: w.w2 }, { session, into: { x_next: xo } });
    }
    const out = await kHead.run({ x: x[L % 2]!, gf, wout }, { session, outputs: 'device' });
    await session.submit();
    logits.push(out.tensors.logits!);
    return out.tensors.next!;
  };

  // warm-up: compile every pipeline on a throwaway cache position, then start over
  await step(promptTokens[0]!);
  for (const c of caches) c.reset();
  logits.length = 0;

  const t0 = performance.now();
  let next = promptTokens[0]!;
  for (let i = 0; i < T; i++) {
    next = await step(i < prompt.length ? promptTokens[i]! : next);
    if (i >= prompt.length - 1) tokens.push(next);
  }
  const generated = (await Promise.all(tokens.slice(0, steps).map((t) => t.read()))).map((a) => a[0]!);
  const seconds = (performance.now() - t0) / 1000;
  console.log(`prompt ${prompt.join(' ')} → ${generated.join(' ')}`);
  console.log(
    `${T} steps (${prompt.length} prompt + ${steps} generated) in ${seconds.toFixed(2)} s: ${(T / seconds).toFixed(1)} tokens/s, one submission per token, no host round trip`,
  );

  // check: every step's logits against the interpreter on the whole sequence so far
  const seq = [...prompt, ...generated];
  const ref = interpret(
    reference(T),
    {
      tokens: Int32Array.from(seq.slice(0, T)),
      ...top,
      ...Object.fromEntries(layerW.flatMap((w, l) => Object.entries(w).map(([k, v]) => [`${k}_${l}`, v]))),
    },
    { b: 1, s: T, t: T, e: E, h: H, g: G, d: D, dv: D, f: F, v: V },
  ).logits!.data;
  let worst = 0;
  for (let i = 0; i < T; i++) {
    const got = await logits[i]!.read();
    for (let j = 0; j < V; j++) worst = Math.max(worst, Math.abs(got[j]! - ref[i * V + j]!));
  }
  console.log(`every step's logits vs the interpreter (whole sequence, same weights): max |difference| = ${worst.toExponential(2)}`);
  if (!(worst < 1e-3)) {
    console.error('logits differ from the interpreter');
    process.exitCode = 1;
  }
} finally {
  await closeRuntime();
}
