/** The help texts, kept together so that they stay consistent with each other. */

const MAIN_HELP = `einattn — a typed einsum DSL for attention, lowered to fused WGSL kernels

usage: einattn <command> [options]

commands:
  tour             check and time every built-in variant, write an HTML report (npm start)
  list             built-in variants: options, inputs, sizes
  run <variant>    run a variant (or --file module.ts) on the GPU or the interpreter
  decode <variant> a decode loop on a device KV cache: per-step wall and kernel time vs host arrays
  info             the WebGPU adapter einattn would use, and its limits
  generate         typed kernel modules at build time (modules.ts… --out DIR)
  cost <variant>   FLOPs, bytes, KV cache and roofline time (--device h100; --compare mha,gqa)
  bench            einattn vs ONNX Runtime WebGPU/CPU and the interpreter, with the measured roofline (npm run bench)
  tune <variant>   search the kernel schedule for sizes on this adapter; cache the winner
  help [command]   this text, or a command's

global: --debug (stack traces), --help, --version
environment: EINATTN_ADAPTER=auto|hardware|software|opengles
exit codes: 0 ok, 1 error or failed check, 2 usage error`;

const RUN_HELP = `usage: einattn run <variant> [options]
       einattn run --file graph.ts [--export NAME] --dims ... [options]

  --dims b=1,h=8,s=128,t=128,d=64  sizes (default for a variant: its check dims; required with --file)
  --opt key=value       variant option (repeatable; --opt causal means causal=true)
  --in name=file.npy    an input from .npy (repeatable). With no --in at all, every input is
                        pseudo-random (and the summary says so); once one --in is given, each
                        other input must be given too, or asked for with --random or --random-rest
  --random NAME         make input NAME pseudo-random (repeatable, or NAME,NAME): f32/f16 uniform
                        in [-1, 1), i32 gather indices uniform in their range, i8 (int8 caches)
                        uniform in -127..127
  --random-rest         make every input not given by --in pseudo-random
  --seed N              seed of the pseudo-random inputs (default 0)
  --out name=file.npy   write an output (repeatable; a bare path when there is one output)
  --interp              run the float64 reference interpreter instead of the GPU
  --check               run both; print max abs / relative error per output; exit 1 above tolerance
  --repeat N            one warm-up, then N timed runs: median, min, max kernel time
  --explain             print which kernels the graph became, and each temporary that holds a
                        query axis and a key axis (s×t) with why it was not fused
  --require-fused       fail (NOT_FUSED, one line saying why) if the plan has such a temporary or
                        the flash matcher rejected a softmax · V contraction
  --wgsl DIR            write each kernel's WGSL to DIR/<kernel>.wgsl (--explain and --wgsl show the plan
                        this run uses: specialized to --dims and the adapter, e.g. split-KV for decoding)
  --dry-run             lower (and --explain, --wgsl) but run nothing
  --adapter KIND        auto | hardware | software | opengles (default: EINATTN_ADAPTER or auto)
  --quiet               no summary of the outputs
  --file PATH           a module exporting a Graph, or a function (opts) => Graph
  --export NAME         which export of --file (default: default, or the only one)
  --no-tuned            ignore a schedule cached by einattn tune for these sizes on this adapter
  --compute f16         f16 products in every einsum (sums, softmax statistics and exp stay f32)
  --storage f16         f32 inputs and outputs stored as f16 on the GPU
  --f16-fallback        where the adapter has no shader-f16, run those in f32 instead of failing
  --debug               stack traces on errors`;

const LIST_HELP = `usage: einattn list [--json]

Every built-in variant with its summary, options (type, default, doc), inputs
(name, axes, dtype), the sizes used to check and to time it, and whether its default
graph lowers fused at its bench sizes (no temporary holding a query axis and a key axis,
no softmax · V contraction left unfused; otherwise why not).`;

const INFO_HELP = `usage: einattn info [--json] [--adapter KIND]

Which WebGPU adapter einattn picks (hardware → software Vulkan → OpenGL ES), why,
its features and the limits plans are checked against.`;

const TOUR_HELP = `usage: einattn tour [--out DIR] [--small] [--only a,b] [--repeat N] [--adapter KIND]

For every built-in variant: lower it, check it against the interpreter on its check
sizes, time it (median of N runs after a warm-up) and report its KV-cache bytes per
token. Writes DIR/<variant>/<kernel>.wgsl, DIR/report.json and DIR/report.html.

  --out DIR     output folder (default out/tour)
  --small       time on the check sizes (fast, for CI)
  --only a,b    only these variants (default: every built-in)
  --repeat N    timed runs per variant (default 5)
  --adapter     auto | hardware | software | opengles`;

const GENERATE_HELP = `usage: einattn generate <module.ts…> --out DIR [--builtin] [--check] [--tuned] [--import-ext ts|js] [--runtime SPEC]

Loads every exported graph (with its bound sizes) and variant from the modules, lowers
each, and writes per graph DIR/<graph>.ts (WGSL constants, the plan, typed Inputs/Sizes/
Outputs and a launcher run(runtime, inputs, sizes)), DIR/<graph>.<kernel>.wgsl and
DIR/index.ts. Generated modules import only einattn/runtime. Output is deterministic.

  --builtin        also generate every built-in variant (default options)
  --check          write nothing; exit 1 naming stale, missing or extra files
  --import-ext     extension of relative imports in index.ts (default ts)
  --runtime SPEC   import specifier of the runtime (default einattn/runtime)
  --tuned          bake each graph's schedule tuned on this adapter (einattn tune; newest size
                   bucket) into its module, named in the module header; untuned graphs keep the default`;

const COST_HELP = `usage: einattn cost <variant> [--dims b=1,h=8,…] [--opt k=v] [--dtype f32|f16] [--device NAME] [--json] [--svg DIR]
       einattn cost --compare mha,gqa,mqa,mla [--layers 32] [--context 4096] [--batch 8] [--device NAME] [--svg DIR]

From the graph itself: FLOPs (contractions scaled by the fraction of (query, key) pairs the
mask keeps), bytes read and written by the fused and the unfused plan, KV-cache bytes per
token per layer (from the inputs the attention's KV axis comes from; axis 'b' is the batch),
arithmetic intensity, and on a device the bound and a roofline time. --compare costs one
decode step (s=1, t=context) of each variant at one model shape, with the total KV cache.
Devices: h100 h200 a100 rtx4090 m2 (peak FLOP/s and bandwidth with their sources), and local:
this adapter, measured by FMA and copy microkernels (cached in .einattn/roofline.json).
--svg writes roofline.svg (with --device) and kv-vs-context.svg (with --compare).`;

/**
 * The help text of a command, or the overview.
 * @example console.log(helpFor('run'))
 */
const BENCH_HELP = `usage: einattn bench [--quick] [--only ROW|VARIANT] [--dims …] [--opt k=v] [--systems a,b] [--repeat N] [--json] [--out DIR] [--tune SECONDS] [--no-tuned]

Within a row the systems' timed calls are interleaved (the order rotating every round) and
speed-ups are medians of paired-call ratios; a row whose IQR exceeds 20% of its median is
flagged. In one process on one adapter: each row (MHA prefill s=t=256/1024 causal and not; GQA decode
t=1024..8192 h=32 g=8 d=128; MQA decode; MLA decode at DeepSeek-V2 shapes; the zoo's diff,
sigmoid and moba at s=t=1024 next to causal MHA) on each system:
einattn (fused), einattn-unfused, interpreter (small rows), ort-webgpu, ort-cpu (onnxruntime-node).
First measures the adapter's FMA (GFLOP/s) and copy (GB/s) microkernels.

  --quick             small versions of the default rows (3 timed calls each)
  --only NAME         one default row (e.g. gqa-decode-4096) or every row of a variant (gqa)
  --dims b=1,…        with --only VARIANT: one row at these sizes (default: the variant's bench sizes)
  --opt key=value     with --only VARIANT: a variant option (repeatable)
  --systems a,b       which systems (default all: einattn, einattn-unfused, interpreter, ort-webgpu, ort-cpu)
  --repeat N          timed calls per row after one warm-up (default 7; --quick 3)
  --json              print one JSON object per system and row (system, variant, dims, median_ms,
                      gflops, gbps, …) to stdout, progress to stderr; writes no files
  --out DIR           where results go (default bench/results): <adapter>.json, .md, .times.svg, .roofline.svg
  --tune SECONDS      tune each row first (budget per row), then bench with the tuned schedule
  --no-tuned          ignore cached tuned schedules (default: use them when present)
  --repeatability     run one row (--only, default gqa-decode-4096) in 3 fresh processes and print
                      each system's median per process, their spread and the paired speed-ups
  --adapter KIND      auto | hardware | software | opengles`;

const TUNE_HELP = `usage: einattn tune <variant> [--dims b=1,…] [--opt k=v] [--budget SECONDS] [--runs N] [--json]

Times schedules of the variant at these sizes on this adapter: from the default, one knob at a
time (split count for decode, KV tile, invocations per workgroup, rows per invocation, workgroup
memory for contraction kernels), within the budget (default 60 s), with a line per candidate.
The winner is re-timed against the default and cached in .einattn/tuned.json (EINATTN_TUNE_CACHE)
under the adapter's identity, the graph and the shape bucket (sizes rounded up to powers of two).
einattn run, einattn bench and einattn generate --tuned use it.`;

const DECODE_HELP = `usage: einattn decode <variant> [--dims b=1,…] [--steps N] [--opt k=v] [--host-repeat N] [--no-check] [--json]

The decode loop as an application runs it: the variant's KV cache is made on the device at
capacity t (paged: m·blk), filled by a prefill of t − N tokens (later sequences of a batch get
fewer: a ragged batch), then N steps run, each one submission that appends one token per
sequence in place and attends over the cache. The first half of the steps runs one at a time
(latency), the rest as a loop with one step in flight while the next is recorded (the step
wall time an application sees). Prints the median per-step wall time, latency and kernel
time (with IQRs), the per-step wall time of the host-array path (the same step with the whole
cache uploaded and the output read back) measured in the same run, and the last step's max
abs error against the interpreter. Variants: gqa, mqa, mha, mla_decode, paged, gqa_int8 (any
variant with a cache option).

  --dims b=1,h=32,g=8,t=8192,d=128,dv=128  sizes; t is the capacity (paged: blk and m, n = b·m
                      by default); s is always 1 (default: the variant's bench sizes)
  --steps N           decode steps (default 16); the capacity must hold them
  --opt key=value     variant option (cache and causal are on unless given)
  --host-repeat N     host-array calls to time (default 3; 0 skips)
  --no-check          skip the interpreter check (slow at large sizes)
  --seed N            seed of the random cache, queries and weights (default 1)
  --json              one JSON object: variant, dims, steps, step_wall_ms, step_latency_ms, step_kernel_ms,
                      host_step_wall_ms (each {median, p25, p75}), max_abs_err, passes, prefill
  --adapter KIND      auto | hardware | software | opengles`;

export function helpFor(command?: string): string {
  switch (command) {
    case 'decode':
      return DECODE_HELP;
    case 'run':
      return RUN_HELP;
    case 'list':
      return LIST_HELP;
    case 'info':
      return INFO_HELP;
    case 'tour':
      return TOUR_HELP;
    case 'generate':
      return GENERATE_HELP;
    case 'cost':
      return COST_HELP;
    case 'bench':
      return BENCH_HELP;
    case 'tune':
      return TUNE_HELP;
    default:
      return MAIN_HELP;
  }
}
