/**
 * The executable plan: plain data that the lowering produces and the runtime runs.
 * It is JSON-serialisable so that build-time generated modules can embed it and run
 * it with the runtime alone (no DSL, no lowering).
 */

/**
 * Storage dtypes of plan buffers. `i8` is packed four to a 32-bit word (little-endian
 * bytes, row-major); its buffer is rounded up to a multiple of 4 bytes.
 */
export type StorageDType = 'f32' | 'f16' | 'i32' | 'i8';

/**
 * An integer expression over named sizes, evaluated when the plan is dispatched.
 * A number is a constant, a string names a size, arrays are operations.
 */
export type SizeExpr =
  | number
  | string
  | ['*', ...SizeExpr[]]
  | ['+', ...SizeExpr[]]
  | ['cdiv', SizeExpr, SizeExpr] // ceil(a / b)
  | ['div', SizeExpr, SizeExpr] // floor(a / b), exact division checked by the size solver
  | ['min', SizeExpr, SizeExpr]
  | ['max', SizeExpr, SizeExpr];

/** One buffer the plan reads or writes, row-major in the order of `shape`. */
export interface PlanBuffer {
  name: string;
  dtype: StorageDType;
  shape: SizeExpr[];
  /** inputs are uploaded by the caller, outputs read back, temps live on the GPU only. */
  role: 'input' | 'output' | 'temp';
  /** axis names, for messages and .npy shapes */
  axes: string[];
}

/** The optional WebGPU features a plan kernel may need. */
export type PlanFeature = 'shader-f16' | 'subgroups';

/** What a kernel computes, as the lowering describes it (also the header comment of its WGSL). */
export interface KernelAbout {
  /** the kernel's title, e.g. `einattn kernel mha_0_flash (graph 'mha', kernel 1)` */
  title: string;
  /** the fused expression and its parts, one line each (`o[b h s dv] = einsum(…)`, `mask = …`) */
  computes: string[];
  /** the schedule or role: `schedule: …`, `block mask: …`, `split-KV merge …` */
  schedule: string;
}

/**
 * What the lowering could not fuse: temporaries holding both a query axis and a key axis (an
 * s×t buffer), and the softmax · V contractions the flash matcher rejected. Absent when
 * there is neither. How query and key axes are found: `src/lower/unfused.ts`.
 */
export interface PlanUnfused {
  /** temporary buffers with a key axis and query axes, and why each one exists (one line each) */
  temps: { buffer: string; key: string; query: string[]; reasons: string[] }[];
  /** each rejected softmax · V contraction (described with buffer names) and the matcher's reason */
  misses: { expr: string; reason: string }[];
}

/** One compute dispatch. */
export interface PlanKernel {
  /** readable name, also the WGSL entry point */
  name: string;
  wgsl: string;
  workgroupSize: [number, number, number];
  /**
   * The total number of workgroups, a 1-D count. The runtime lays it out over x, y
   * and z so that no dimension exceeds maxComputeWorkgroupsPerDimension; the shader
   * linearises `workgroup_id` with `num_workgroups` and returns when past the count.
   */
  workgroups: SizeExpr;
  /** storage buffers in binding order: @group(0) @binding(i) */
  bindings: { buffer: string; access: 'read' | 'read_write' }[];
  /**
   * sizes passed as one uniform struct of u32 fields in this order, at
   * @group(0) @binding(bindings.length); empty means no uniform buffer
   */
  uniforms: string[];
  /** bytes of var<workgroup> memory the shader declares */
  workgroupStorageBytes: number;
  /**
   * optional WebGPU features the shader needs, set by the lowering from the kernel IR (f16
   * types, subgroup operations); the runtime refuses the kernel before dispatch on a device
   * without them
   */
  features?: PlanFeature[];
  /** what the kernel computes and how, for explain() and the WGSL header (absent in hand-written plans) */
  about?: KernelAbout;
  /**
   * the shader shuffles values among groups of this many consecutive invocations
   * (`subgroupShuffleXor`): it needs subgroups of at least this size that follow
   * local_invocation_index, which the runtime checks before dispatch
   */
  subgroupLanes?: number;
}

/** A whole lowered graph: buffers, size rules and kernels in dispatch order. */
export interface ExecPlan {
  name: string;
  /** sizes the caller must supply at dispatch time */
  dynamicSizes: string[];
  /** sizes baked in at generation time */
  staticSizes: Record<string, number>;
  /** sizes computed from others, in evaluation order (e.g. r = h / g) */
  derivedSizes: { name: string; expr: SizeExpr }[];
  /**
   * equalities checked before dispatch, after derived sizes are computed, e.g.
   * `{ lhs: ['*', 'g', 'r'], rhs: 'h', what: 'h must be divisible by g (split h -> g r)' }`
   */
  constraints: { lhs: SizeExpr; rhs: SizeExpr; what: string }[];
  buffers: PlanBuffer[];
  kernels: PlanKernel[];
  /**
   * i32 input buffers whose every value must lie in 0 ≤ v < size (gather indices);
   * checked on the host before dispatch, since a shader cannot report an error
   */
  indexChecks?: IndexCheck[];
  /** what was not fused, and why (absent when everything that looks like attention was) */
  unfused?: PlanUnfused;
}

/**
 * One host-side range check: every used value of the i32 input `buffer` must lie in
 * 0 ≤ v < size. `what` says where the bound comes from, for the INDEX_RANGE message.
 */
export interface IndexCheck {
  buffer: string;
  size: SizeExpr;
  what: string;
  /**
   * Only part of `buffer` is used: its entries whose index along `axis` is below
   * ceil(length[…] / per), where the i32 input `length` is read at the entry's own indices
   * along its axes (which `buffer` has too, by name). A paged cache's block table
   * [b m] is used up to ceil(kv_len[b] / blk) blocks because the attention kernel never reads
   * past kv_len; the rest may hold any padding (-1). Without `length` on the host the
   * used part is unknown and the entries are not checked.
   * @example { length: 'kv_len', axis: 'm', per: 'blk' }
   */
  usedBy?: { length: string; axis: string; per: SizeExpr };
}
