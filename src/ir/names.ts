import { fail } from '../errors.ts';

/** WGSL keywords and reserved words (WGSL spec §15), plus names our kernels use. */
const RESERVED = new Set(
  (
    'alias break case const const_assert continue continuing default diagnostic discard else enable false fn for if let loop ' +
    'override requires return struct switch true var while ' +
    'NULL Self abstract active alignas alignof as asm asm_fragment async attribute auto await become binding_array cast catch ' +
    'class co_await co_return co_yield coherent column_major common compile compile_fragment concept const_cast consteval ' +
    'constexpr constinit crate debugger decltype delete demote demote_to_helper do dynamic_cast enum explicit export extends ' +
    'extern external fallthrough filter final finally friend from fxgroup get goto groupshared highp impl implements import ' +
    'inline instanceof interface layout lowp macro macro_rules match mediump meta mod module move mut mutable namespace new ' +
    'nil noexcept noinline nointerpolation noperspective null nullptr of operator package packoffset partition pass patch ' +
    'pixelfragment precise precision premerge priv protected pub public readonly ref regardless register reinterpret_cast ' +
    'require resource restrict self set shared sizeof smooth snorm static static_assert static_cast std subroutine super ' +
    'target template this thread_local throw trait try type typedef typeid typename typeof union unless unorm unsafe unsized ' +
    'use using varying virtual volatile wgsl where with writeonly yield ' +
    'f32 f16 i32 u32 bool vec2 vec3 vec4 mat2x2 array atomic ptr sampler texture_2d'
  ).split(/\s+/),
);

/**
 * WGSL built-in functions. A buffer named like one would hide it at module scope
 * (`var<storage> exp` hides `exp()`), so the lowering renames such buffers.
 */
const BUILTIN_FUNCTIONS = new Set(
  (
    'abs acos acosh all any arrayLength asin asinh atan atan2 atanh atomicAdd atomicLoad atomicStore bitcast ceil clamp cos ' +
    'cosh countLeadingZeros countOneBits countTrailingZeros cross degrees determinant distance dot dot4I8Packed dot4U8Packed ' +
    'exp exp2 extractBits faceForward firstLeadingBit firstTrailingBit floor fma fract frexp insertBits inverseSqrt ldexp ' +
    'length log log2 max min mix modf normalize pack2x16float pow quantizeToF16 radians reflect refract reverseBits round ' +
    'saturate select sign sin sinh smoothstep sqrt step storageBarrier subgroupAdd subgroupMax subgroupBroadcast tan tanh ' +
    'transpose trunc unpack2x16float workgroupBarrier workgroupUniformLoad vec2i vec3i vec4i vec2u vec3u vec4u vec2f vec3f ' +
    'vec4f vec2h vec3h vec4h mat3x3 mat4x4'
  ).split(/\s+/),
);

/** True when `name` is a WGSL built-in function name. */
export function isWgslBuiltin(name: string): boolean {
  return BUILTIN_FUNCTIONS.has(name);
}

const IDENT = /^[A-Za-z][A-Za-z0-9_]*$/;
export const MAX_NAME_LENGTH = 64;

/** True when `name` may be used as an axis, size or tensor name. */
export function isSafeName(name: string): boolean {
  return typeof name === 'string' && IDENT.test(name) && name.length <= MAX_NAME_LENGTH && !name.includes('__') && !RESERVED.has(name);
}

/**
 * Throws a BAD_NAME error unless `name` is a safe identifier: ASCII letter first,
 * then letters, digits and single underscores, at most 64 characters, not a WGSL
 * keyword or reserved word. Names reach generated WGSL and TypeScript, so they are
 * checked, never pasted raw.
 * @example checkName('axis', 'dv', "input 'v'")
 */
export function checkName(kind: string, name: string, where: string): void {
  if (isSafeName(name)) return;
  const shown = JSON.stringify(String(name).slice(0, 80));
  let why = 'use an ASCII letter followed by letters, digits or single underscores';
  if (typeof name !== 'string') why = `got a ${typeof name}`;
  else if (name.length > MAX_NAME_LENGTH) why = `it is ${name.length} characters long; the limit is ${MAX_NAME_LENGTH}`;
  else if (RESERVED.has(name)) why = 'it is a WGSL keyword or reserved word';
  else if (name.includes('__')) why = "'__' is reserved in WGSL";
  fail('BAD_NAME', `${where}: ${kind} name ${shown} is not a safe identifier (${why})`);
}
