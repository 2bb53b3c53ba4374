/**
 * Type-level parsing of axis lists and einsum specs. These types let the
 * TypeScript compiler check axes; the same rules run at run time in `spec.ts`.
 */

type Ws = ' ' | '\t' | '\n';

/** Strips leading and trailing whitespace from a string literal type. */
export type Trim<S extends string> = S extends `${Ws}${infer R}` ? Trim<R> : S extends `${infer R}${Ws}` ? Trim<R> : S;

/**
 * True for text known only at run time: `string` and template-literal patterns such
 * as `${string} -> ${string}` (they admit every key, so `{}` satisfies their record).
 */
// biome-ignore lint/complexity/noBannedTypes: `{}` is the empty record the test needs, not an object type
export type IsDynamic<S extends string> = {} extends Record<S, 1> ? true : false;

/** `'b h  s d'` → `['b', 'h', 's', 'd']`. */
export type ParseAxes<S extends string> =
  IsDynamic<S> extends true ? string[] : Trim<S> extends '' ? [] : Trim<S> extends `${infer H} ${infer R}` ? [Trim<H>, ...ParseAxes<R>] : [Trim<S>];

type SplitComma<S extends string> = S extends `${infer H},${infer R}` ? [H, ...SplitComma<R>] : [S];

type ParseEach<L extends string[]> = { [K in keyof L]: ParseAxes<L[K]> };

/** The operand axis lists of an einsum spec. */
export type SpecInputs<S extends string> = S extends `${infer L}->${string}` ? ParseEach<SplitComma<L>> : ParseEach<SplitComma<S>>;

/**
 * The output axes of an einsum spec. An implicit output (numpy's rule: axes seen
 * once, sorted) is typed as `string[]`: write `->` to get a typed result.
 */
export type SpecOutput<S extends string> = IsDynamic<S> extends true ? string[] : S extends `${string}->${infer R}` ? ParseAxes<R> : string[];

/** Removes every axis in `R` from `A`, keeping order (unknown when `R` is only known at run time). */
export type Without<A extends readonly string[], R extends string> = string extends R ? string[] : WithoutKnown<A, R>;

type WithoutKnown<A extends readonly string[], R extends string> = A extends readonly [infer H extends string, ...infer T extends string[]]
  ? H extends R
    ? WithoutKnown<T, R>
    : [H, ...WithoutKnown<T, R>]
  : [];

/** `A` followed by the axes of `B` that `A` lacks: the axes of a broadcast. */
export type Union<A extends readonly string[], B extends readonly string[]> = string[] extends A
  ? string[]
  : string[] extends B
    ? string[]
    : [...A, ...Without<B, A[number]>];

/** True when the tuple `X` has more elements than `Y` (false for lists known only at run time). */
export type Longer<X extends readonly unknown[], Y extends readonly unknown[]> = X extends readonly [unknown, ...infer XT]
  ? Y extends readonly [unknown, ...infer YT]
    ? Longer<XT, YT>
    : true
  : false;

/**
 * The axes of `where(cond, a, b)`: the value operand with more axes (`a` on a tie), then the
 * other's that it lacks, then the mask's that neither has (as `selectAxes` at run time).
 */
export type SelectAxes<C extends readonly string[], A extends readonly string[], B extends readonly string[]> =
  Longer<B, A> extends true ? Union<Union<B, A>, C> : Union<Union<A, B>, C>;

/** Replaces axis `X` in `A` by the axes `By`. */
export type Replace<A extends readonly string[], X extends string, By extends readonly string[]> = A extends readonly [
  infer H extends string,
  ...infer T extends string[],
]
  ? H extends X
    ? [...By, ...Replace<T, X, By>]
    : [H, ...Replace<T, X, By>]
  : [];

/** Renames axis `From` to `To`. */
export type Rename<A extends readonly string[], From extends string, To extends string> = Replace<A, From, [To]>;

/**
 * Merges the axes `M` into one axis `To`, placed where the first of them (in the
 * tensor's order) was, as the run-time view does.
 */
export type Merge<A extends readonly string[], M extends readonly string[], To extends string> = A extends readonly [
  infer H extends string,
  ...infer T extends string[],
]
  ? H extends M[number]
    ? [To, ...Without<T, M[number]>]
    : [H, ...Merge<T, M, To>]
  : [];

/** True when `X` is one of the axes `A`. */
export type Has<A extends readonly string[], X extends string> = X extends A[number] ? true : false;

/** Each name of `L` that is not an axis of `A`. */
export type Missing<A extends readonly string[], L extends readonly string[]> = Exclude<L[number], A[number]>;

/**
 * `O` (a space-separated axis list) when every axis it names is one of `A`; else a
 * message type naming the missing axes, so `x.sum('typo')` fails to compile.
 * Untyped tensors (`string[]` axes) and non-literal lists pass unchecked.
 */
export type CheckAxes<A extends readonly string[], O extends string> = string[] extends A
  ? O
  : IsDynamic<O> extends true
    ? O
    : [Missing<A, ParseAxes<O>>] extends [never]
      ? O
      : `axis '${Missing<A, ParseAxes<O>>}' is not an axis of the tensor`;

/** `O` when it names every axis of `A` and no other (a transpose order); else a message type. */
export type CheckPermutation<A extends readonly string[], O extends string> = string[] extends A
  ? O
  : IsDynamic<O> extends true
    ? O
    : [Missing<A, ParseAxes<O>> | Missing<ParseAxes<O>, A>] extends [never]
      ? O
      : `transpose: axis '${Missing<A, ParseAxes<O>> | Missing<ParseAxes<O>, A>}' is missing or not an axis of the tensor`;
