/**
 * Glue between the feature extractor and the WebGPU kernels (gpu-kernels/): which device to use,
 * and the Gaussian and texture jobs of one extraction computed on it. Everything else (HU, box
 * min/max, context) stays on the TypeScript path, which is also the reference the kernels are
 * tested against (tests/gpu.test.ts) and the fallback when there is no usable adapter.
 *
 * Device choice ('auto' | 'gpu' | 'cpu'): 'auto' takes a hardware adapter and otherwise the CPU
 * path — a software adapter (Mesa llvmpipe) is a CPU too, and measured slower than the TypeScript
 * path (scripts/bench_gpu.ts); 'gpu' takes any adapter, llvmpipe included, and fails without
 * one; 'cpu' never loads WebGPU. The choice is reported through `log` in one line.
 */
import type { Vec3 } from '../core/volume.js';
import { gaussianPointsOnGpu, planZSlabs, texturePointsOnGpu } from '../../gpu-kernels/ops.js';
import { GpuRuntime } from '../../gpu-kernels/runtime.js';
import { jobName, jobSupport, type GaussianJob, type Job, type Region, type TextureJob } from './slab.js';

export type FeatureDevice = 'auto' | 'gpu' | 'cpu';

export const FEATURE_DEVICES: readonly FeatureDevice[] = ['auto', 'gpu', 'cpu'];

export function parseFeatureDevice(s: string): FeatureDevice {
  if ((FEATURE_DEVICES as readonly string[]).includes(s)) return s as FeatureDevice;
  throw new Error(`device must be one of ${FEATURE_DEVICES.join(', ')} (got "${s}")`);
}

export { isGpuJob } from './slab.js';

/**
 * Largest sub-volume per batch by default (2²⁵ voxels, 128 MiB per buffer): a Gaussian job holds
 * about 7 such buffers at once, so this keeps a job under 1 GiB of GPU memory even where the
 * device would bind larger buffers.
 */
const DEFAULT_MAX_SLAB_VOXELS = 1 << 25;

export interface GpuFeatureOptions {
  /**
   * Largest sub-volume (voxels) sent to the device at once; larger regions are cut into z-slabs
   * with halos. Default and upper bound: the device's binding limit and DEFAULT_MAX_SLAB_VOXELS.
   * Tests lower it to cross slab boundaries.
   */
  maxSlabVoxels?: number;
}

/**
 * A device for feature extraction: owns a GpuRuntime (one per process, reused across scans);
 * close() frees it. Hand it to FeatureExtractor / extractFeatures as `gpu`.
 */
export class GpuFeatures {
  readonly maxSlabVoxels: number;

  constructor(
    readonly runtime: GpuRuntime,
    opts: GpuFeatureOptions = {},
  ) {
    const limit = Math.min(Math.floor(runtime.adapter.maxBindingBytes / 4), DEFAULT_MAX_SLAB_VOXELS);
    this.maxSlabVoxels = Math.max(1, Math.min(limit, Math.floor(opts.maxSlabVoxels ?? limit)));
  }

  get description(): string {
    return this.runtime.adapter.description;
  }

  close(): void {
    this.runtime.destroy();
  }

  /**
   * Computes the GPU jobs' columns for `voxels` into rows (row k at rows[k * stride]): `ct` is the
   * clamped CT on `ctBox` (ctBoxFor over all jobs, so it holds every job's halo). Adds ms per job.
   */
  async computeJobs(
    ct: Float32Array,
    ctBox: Region,
    dims: Vec3,
    spacingMm: Vec3,
    voxels: Int32Array,
    jobs: readonly (GaussianJob | TextureJob)[],
    rows: Float32Array,
    stride: number,
    timingsMs?: Record<string, number>,
  ): Promise<void> {
    for (const job of jobs) {
      const t0 = performance.now();
      await this.computeJob(ct, ctBox, dims, spacingMm, voxels, job, rows, stride);
      if (timingsMs) {
        const name = jobName(job);
        timingsMs[name] = (timingsMs[name] ?? 0) + (performance.now() - t0);
      }
    }
  }

  private async computeJob(
    ct: Float32Array,
    ctBox: Region,
    dims: Vec3,
    spacingMm: Vec3,
    voxels: Int32Array,
    job: GaussianJob | TextureJob,
    rows: Float32Array,
    stride: number,
  ): Promise<void> {
    const { halo, step } = jobSupport(job, spacingMm);
    // The job's region: the CT box with its start moved up onto the volume's lattice (ctBoxFor
    // grew the box by halo + step − 1, so every point keeps its full halo).
    const lo: Vec3 = [0, 0, 0];
    const rd: Vec3 = [0, 0, 0];
    for (let a = 0; a < 3; a++) {
      lo[a] = Math.ceil(ctBox.lo[a]! / step[a]!) * step[a]!;
      rd[a] = ctBox.lo[a]! + ctBox.dims[a]! - lo[a]!;
    }
    const m = voxels.length;
    // Points in region coordinates, sorted by z (counting sort) for the slabs.
    const px = new Int32Array(m);
    const py = new Int32Array(m);
    const pz = new Int32Array(m);
    const counts = new Int32Array(rd[2] + 1);
    for (let k = 0; k < m; k++) {
      const v = voxels[k]!;
      const x = v % dims[0];
      const t = (v - x) / dims[0];
      const y = t % dims[1];
      const z = (t - y) / dims[1];
      px[k] = x - lo[0];
      py[k] = y - lo[1];
      pz[k] = z - lo[2];
      counts[pz[k]! + 1]!++;
    }
    for (let z = 0; z < rd[2]; z++) counts[z + 1]! += counts[z]!;
    const order = new Int32Array(m);
    const sortedZ = new Int32Array(m);
    for (let k = 0; k < m; k++) {
      const at = counts[pz[k]!]!++;
      order[at] = k;
      sortedZ[at] = pz[k]!;
    }
    const plane = rd[0] * rd[1];
    const channels = job.type === 'gaussian' ? 7 : 2;
    const slabs = planZSlabs(sortedZ, rd[2], plane, halo[2], step[2], this.maxSlabVoxels, Math.floor(this.maxSlabVoxels / channels));
    const cols =
      job.type === 'gaussian'
        ? [job.mean, job.std, job.grad, job.log, job.vesselness, job.blobness, job.plateness]
        : [job.mean, job.std];
    for (const slab of slabs) {
      const sub = cropSubVolume(ct, ctBox, lo, rd, slab.z0, slab.z1);
      const sd: Vec3 = [rd[0], rd[1], slab.z1 - slab.z0];
      const pts = new Uint32Array(slab.end - slab.start);
      for (let i = slab.start; i < slab.end; i++) {
        const k = order[i]!;
        pts[i - slab.start] = px[k]! + rd[0] * (py[k]! + rd[1] * (pz[k]! - slab.z0));
      }
      const out =
        job.type === 'gaussian'
          ? await gaussianPointsOnGpu(this.runtime, sub, sd, spacingMm, job.sigmaMm, step, { std: job.std >= 0, grad: job.grad >= 0, hessian: job.log >= 0 || job.vesselness >= 0 || job.blobness >= 0 || job.plateness >= 0 }, pts)
          : await texturePointsOnGpu(this.runtime, sub, sd, spacingMm, job.sigmaGradMm, job.sigmaWindowMm, step, job.std >= 0, pts);
      for (let i = slab.start; i < slab.end; i++) {
        const r = order[i]! * stride;
        const o = (i - slab.start) * channels;
        for (let c = 0; c < channels; c++) {
          const col = cols[c]!;
          if (col >= 0) rows[r + col] = out[o + c]!;
        }
      }
    }
  }
}

/** Slices [z0, z1) of the region (first voxel `lo`, dims `rd`) cut out of the CT box. */
function cropSubVolume(ct: Float32Array, ctBox: Region, lo: Vec3, rd: Vec3, z0: number, z1: number): Float32Array {
  const [bx, by] = ctBox.dims;
  const ox = lo[0] - ctBox.lo[0];
  const oy = lo[1] - ctBox.lo[1];
  const oz = lo[2] - ctBox.lo[2];
  const out = new Float32Array(rd[0] * rd[1] * (z1 - z0));
  let o = 0;
  for (let z = z0; z < z1; z++) {
    for (let y = 0; y < rd[1]; y++, o += rd[0]) {
      const row = ox + bx * (oy + y + by * (oz + z));
      out.set(ct.subarray(row, row + rd[0]), o);
    }
  }
  return out;
}

/**
 * Resolves a device choice to a GpuFeatures (or null for the CPU path), logging the choice in one
 * line. 'gpu' without any adapter throws; 'auto' falls back to the CPU path.
 */
export async function openFeatureDevice(choice: FeatureDevice, log: (line: string) => void, opts: GpuFeatureOptions = {}): Promise<GpuFeatures | null> {
  if (choice === 'cpu') {
    log('features: device cpu (TypeScript path)');
    return null;
  }
  const opened = await GpuRuntime.open({ hardwareOnly: choice === 'auto' });
  if (!opened.runtime) {
    if (choice === 'gpu') throw new Error(`--device gpu: ${opened.reason}`);
    log(`features: device cpu (TypeScript path; ${opened.reason})`);
    return null;
  }
  const rt = opened.runtime;
  if (choice === 'auto' && rt.adapter.software) {
    rt.destroy();
    log(`features: device cpu (TypeScript path; only a software WebGPU adapter: ${rt.adapter.description}, slower than the CPU path)`);
    return null;
  }
  log(`features: device gpu (${rt.adapter.description}${rt.adapter.software ? ', software adapter' : ''})`);
  return new GpuFeatures(rt, opts);
}

