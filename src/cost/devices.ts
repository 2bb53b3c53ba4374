/** Peak compute and bandwidth of common devices, with where the numbers come from. */

/** A device's roofline. */
export interface Device {
  name: string;
  /** dense FLOP/s by dtype of the math (f16 = tensor cores where the device has them) */
  flops: { f32: number; f16: number };
  /** bytes per second of main memory */
  bandwidth: number;
  /**
   * bytes read per second by a streaming read, where measured: then reads are bounded by it and
   * writes by `bandwidth` (a measured copy), instead of both by `bandwidth`
   */
  readBandwidth?: number;
  source: string;
}

const T = 1e12;

/** Presets; `local` (the bench's measured roofline) is added by the caller when present. */
export const DEVICES: Record<string, Device> = {
  h100: {
    name: 'NVIDIA H100 SXM5',
    flops: { f32: 67 * T, f16: 989 * T },
    bandwidth: 3.35e12,
    source: 'NVIDIA H100 datasheet (dense FP16 tensor, FP32 non-tensor), HBM3 3.35 TB/s',
  },
  h200: {
    name: 'NVIDIA H200 SXM',
    flops: { f32: 67 * T, f16: 989 * T },
    bandwidth: 4.8e12,
    source: 'NVIDIA H200 datasheet (dense FP16 tensor, FP32), HBM3e 4.8 TB/s',
  },
  a100: {
    name: 'NVIDIA A100 SXM4 80GB',
    flops: { f32: 19.5 * T, f16: 312 * T },
    bandwidth: 2.039e12,
    source: 'NVIDIA A100 datasheet (dense FP16 tensor, FP32), HBM2e 2.039 TB/s',
  },
  rtx4090: {
    name: 'NVIDIA GeForce RTX 4090',
    flops: { f32: 82.6 * T, f16: 165.2 * T },
    bandwidth: 1.008e12,
    source: 'NVIDIA Ada whitepaper (FP32 82.6 TFLOPS; FP16 tensor with FP32 accumulate, dense 165.2), GDDR6X 1008 GB/s',
  },
  m2: {
    name: 'Apple M2 (10-core GPU)',
    flops: { f32: 3.6 * T, f16: 3.6 * T },
    bandwidth: 100e9,
    source: 'Apple M2 announcement: 3.6 TFLOPS, 100 GB/s unified memory',
  },
};
