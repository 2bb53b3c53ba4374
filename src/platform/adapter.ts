/// <reference types="@webgpu/types" preserve="true" />
/**
 * Adapter choice, the parts every host shares: what a choice is, how it is parsed and
 * reported, and how a software rasteriser is recognised. Finding the adapter is the
 * platform's: Dawn in Node (hardware, else software Vulkan, else OpenGL ES; `platform/dawn.ts`),
 * `navigator.gpu` in a browser (`navigator.ts`).
 */
import { EinattnError } from '../errors.ts';

/** What kind of adapter a runtime runs on. */
export type AdapterKind = 'hardware' | 'software' | 'opengles';

/** An adapter request: `auto` walks hardware → software → opengles. */
export type AdapterChoice = 'auto' | AdapterKind;

/** The adapter that was chosen, with the `GPU` object that must outlive its device. */
export interface ChosenAdapter {
  /** the object returned by Dawn's `create()` (dropping it while its device lives crashes Dawn), or `navigator.gpu` */
  gpu: GPU;
  adapter: GPUAdapter;
  kind: AdapterKind;
  /** e.g. "no hardware adapter found; using software Vulkan (lavapipe)" */
  reason: string;
  /** the Dawn backend: 'vulkan', 'metal', 'd3d12' or 'opengles'; 'browser' for `navigator.gpu` */
  backend: string;
}

const CHOICES: readonly AdapterChoice[] = ['auto', 'hardware', 'software', 'opengles'];

/**
 * Parses an adapter choice (from `EINATTN_ADAPTER` or an option); `source` names it in errors.
 * @example parseAdapterChoice(undefined, 'EINATTN_ADAPTER') // 'auto' (unset)
 * @example parseAdapterChoice('gpu', 'EINATTN_ADAPTER') // throws: EINATTN_ADAPTER='gpu' is not one of auto | hardware | software | opengles
 */
export function parseAdapterChoice(value: string | undefined, source = 'adapter'): AdapterChoice {
  if (value === undefined || value === '') return 'auto';
  const v = value.trim().toLowerCase();
  if ((CHOICES as readonly string[]).includes(v)) return v as AdapterChoice;
  throw new EinattnError('NO_ADAPTER', `${source}='${value}' is not one of ${CHOICES.join(' | ')}`);
}

/**
 * Whether an adapter is a CPU rasteriser (lavapipe/llvmpipe, SwiftShader) rather than a GPU.
 * @example isSoftwareAdapter({ vendor: 'mesa', architecture: '', device: '', description: 'llvmpipe (LLVM 19.1.7, 256 bits)' } as GPUAdapterInfo) // true (lavapipe)
 */
export function isSoftwareAdapter(info: GPUAdapterInfo): boolean {
  if (info.isFallbackAdapter) return true;
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  return /llvmpipe|lavapipe|swiftshader|softpipe|software/.test(text);
}

/**
 * A short name for a software rasteriser, for reason strings.
 * @example softwareName({ vendor: 'mesa', architecture: '', device: '', description: 'llvmpipe (LLVM 19.1.7, 256 bits)' } as GPUAdapterInfo) // 'lavapipe'
 */
export function softwareName(info: GPUAdapterInfo): string {
  // Chromium reports SwiftShader in `architecture` only, with empty device and description.
  const text = `${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  if (text.includes('swiftshader')) return 'SwiftShader';
  if (text.includes('llvmpipe') || text.includes('lavapipe')) return 'lavapipe';
  return info.description || info.device || 'unknown software adapter';
}

/**
 * The adapter's name as its driver gives it, for reason strings.
 * @example adapterLabel({ vendor: 'mesa', architecture: '', device: '', description: 'llvmpipe (LLVM 19.1.7, 256 bits)' } as GPUAdapterInfo) // 'llvmpipe (LLVM 19.1.7, 256 bits)'
 */
export function adapterLabel(info: GPUAdapterInfo): string {
  return info.description || info.device || [info.vendor, info.architecture].filter(Boolean).join(' ') || 'unnamed adapter';
}
