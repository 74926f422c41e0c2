/**
 * The WebGPU runtime of the feature kernels: one object per process that owns the device, the
 * compiled pipelines (built on first use, then cached) and the buffer helpers. Callers create it
 * once (GpuRuntime.open), reuse it across scans and destroy() it at the end; nothing here runs at
 * import time and nothing is global, so a process without the `webgpu` package or without a
 * Vulkan driver only pays when it asks for a device.
 *
 * WebGPU in Node comes from the `webgpu` npm package (Dawn). On Linux Dawn talks to a Vulkan
 * driver; Mesa's llvmpipe (lavapipe) is a software Vulkan driver that Dawn reports as a fallback
 * adapter — it works (the tests run on it) but is a CPU, so callers decide whether to use it.
 */
import type {} from 'webgpu';
import { GRADMAG_WGSL, PASS_WGSL, POINTS_WGSL, WORKGROUP_SIZE } from './wgsl.js';

// WebGPU's numeric flags (spec values), so the runtime needs no global GPUBufferUsage object.
const USAGE_MAP_READ = 0x1;
const USAGE_COPY_SRC = 0x4;
const USAGE_COPY_DST = 0x8;
const USAGE_UNIFORM = 0x40;
const USAGE_STORAGE = 0x80;
const MAP_READ = 0x1;
const MAX_WORKGROUPS_PER_DIM = 65535;

export type KernelName = 'pass' | 'gradmag' | 'points';

const SOURCES: Record<KernelName, string> = { pass: PASS_WGSL, gradmag: GRADMAG_WGSL, points: POINTS_WGSL };

export interface GpuAdapterSummary {
  /** Vendor / device / driver text as the adapter reports it. */
  description: string;
  /** A software adapter (llvmpipe, SwiftShader): runs on the CPU. */
  software: boolean;
  /** Largest storage buffer one binding may hold on this device (bytes). */
  maxBindingBytes: number;
}

/** The reason given when Dawn offers no adapter. */
export const NO_ADAPTER = 'no WebGPU adapter (is a Vulkan driver installed?)';

/** Names of software (CPU) WebGPU implementations as adapters report them. */
export const SOFTWARE_ADAPTER_NAMES = /llvmpipe|lavapipe|swiftshader/i;

/**
 * What an adapter is, from its info: vendor / architecture / device / driver text, and whether it
 * is a software (CPU) implementation. Shared by the feature kernels and the refiner's tfjs webgpu
 * backend (src/refine/backend.ts), which both skip a software adapter when choosing automatically.
 */
export function describeAdapter(adapter: GPUAdapter): { description: string; software: boolean } {
  const info = adapter.info;
  // Dawn marks CPU implementations as fallback adapters; older builds only say so in the type.
  const flagged = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  const software = flagged || info.architecture === 'software' || SOFTWARE_ADAPTER_NAMES.test(`${info.device} ${info.description}`);
  const description = [info.vendor, info.architecture, info.device, info.description].filter((s) => s && s.length > 0).join(' / ');
  return { description: description || 'unknown adapter', software };
}

export type GpuOpenResult = { runtime: GpuRuntime; reason?: undefined } | { runtime: null; reason: string };

/** A set of GPU commands recorded together and the temporary buffers they use. */
export class GpuBatch {
  readonly encoder: GPUCommandEncoder;
  private readonly temps: GPUBuffer[] = [];
  constructor(device: GPUDevice) {
    this.encoder = device.createCommandEncoder();
  }
  /** Buffers destroyed once the batch has run. */
  own<T extends GPUBuffer>(b: T): T {
    this.temps.push(b);
    return b;
  }
  release(): void {
    for (const b of this.temps) b.destroy();
    this.temps.length = 0;
  }
}

export class GpuRuntime {
  private readonly pipelines = new Map<KernelName, GPUComputePipeline>();
  private destroyed = false;
  /** Batches run one at a time: error scopes are a per-device stack, and memory peaks stay one batch's. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    // Dawn's instance must outlive its device: once garbage-collected, its threads crash the process.
    private readonly instance: GPU,
    private readonly device: GPUDevice,
    readonly adapter: GpuAdapterSummary,
  ) {}

  /**
   * Opens a device on the first adapter Dawn offers. `null` with the reason when the `webgpu`
   * package or its native part cannot load, or there is no adapter (no Vulkan driver).
   */
  static async open(): Promise<GpuOpenResult> {
    let mod: typeof import('webgpu');
    try {
      mod = await import('webgpu');
    } catch (err) {
      return { runtime: null, reason: `the webgpu package did not load (${err instanceof Error ? err.message : String(err)})` };
    }
    let adapter: GPUAdapter | null;
    let instance: GPU;
    try {
      instance = mod.create([]);
      adapter = await instance.requestAdapter({ powerPreference: 'high-performance' });
    } catch (err) {
      return { runtime: null, reason: `no WebGPU adapter (${err instanceof Error ? err.message : String(err)})` };
    }
    if (!adapter) return { runtime: null, reason: NO_ADAPTER };
    const { description, software } = describeAdapter(adapter);
    // Ask for the adapter's full buffer limits: the default 128 MiB would force smaller slabs.
    const maxBinding = adapter.limits.maxStorageBufferBindingSize;
    const maxBuffer = adapter.limits.maxBufferSize;
    const device = await adapter.requestDevice({
      requiredLimits: { maxStorageBufferBindingSize: maxBinding, maxBufferSize: maxBuffer },
    });
    return {
      runtime: new GpuRuntime(instance, device, { description, software, maxBindingBytes: Math.min(maxBinding, maxBuffer) }),
    };
  }

  /** Frees the device; the runtime refuses work afterwards. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.pipelines.clear();
    this.device.destroy();
  }

  /**
   * Records GPU work with `record` (buffers, dispatches) and runs it, resolving to the `floats`
   * values of the buffer it returns. Calls are served one at a time. Validation and out-of-memory
   * errors anywhere in the batch — buffer creation included — reject here; the batch's buffers
   * are freed either way.
   */
  compute(record: (batch: GpuBatch) => { result: GPUBuffer; floats: number }): Promise<Float32Array> {
    const job = this.queue.then(() => this.runBatch(record));
    this.queue = job.catch(() => undefined);
    return job;
  }

  /** A storage buffer of `floats` 4-byte elements (contents undefined), destroyed with the batch. */
  storage(batch: GpuBatch, floats: number): GPUBuffer {
    return batch.own(this.device.createBuffer({ size: Math.max(4, 4 * floats), usage: USAGE_STORAGE | USAGE_COPY_SRC | USAGE_COPY_DST }));
  }

  /** A storage buffer holding `data`, destroyed with the batch. */
  upload(batch: GpuBatch, data: Float32Array | Uint32Array | Float64Array): GPUBuffer {
    const n = data.length;
    const buf = batch.own(this.device.createBuffer({ size: Math.max(4, 4 * n), usage: USAGE_STORAGE | USAGE_COPY_SRC, mappedAtCreation: true }));
    const range = buf.getMappedRange();
    if (data instanceof Uint32Array) new Uint32Array(range, 0, n).set(data);
    else new Float32Array(range, 0, n).set(data);
    buf.unmap();
    return buf;
  }

  /**
   * Records one kernel over `count` invocations. `params` builds the kernel's uniform block given
   * the row pitch of the 2-D dispatch; `buffers` are bindings 1, 2, … in the kernel's order.
   */
  dispatch(batch: GpuBatch, kernel: KernelName, count: number, params: (rowPitch: number) => ArrayBuffer, buffers: readonly GPUBuffer[]): void {
    if (count === 0) return;
    const groups = Math.ceil(count / WORKGROUP_SIZE);
    const gx = Math.min(groups, MAX_WORKGROUPS_PER_DIM);
    const gy = Math.ceil(groups / gx);
    const data = params(gx * WORKGROUP_SIZE);
    const uni = batch.own(this.device.createBuffer({ size: Math.ceil(data.byteLength / 16) * 16, usage: USAGE_UNIFORM | USAGE_COPY_DST }));
    this.device.queue.writeBuffer(uni, 0, data);
    const pipeline = this.pipeline(kernel);
    const bind = this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [{ binding: 0, resource: { buffer: uni } }, ...buffers.map((b, i) => ({ binding: i + 1, resource: { buffer: b } }))],
    });
    const pass = batch.encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(gx, gy);
    pass.end();
  }

  private async runBatch(record: (batch: GpuBatch) => { result: GPUBuffer; floats: number }): Promise<Float32Array> {
    this.check();
    const batch = new GpuBatch(this.device);
    this.device.pushErrorScope('validation');
    this.device.pushErrorScope('out-of-memory');
    let staging: GPUBuffer | null = null;
    let bytes = 0;
    let floats = 0;
    try {
      try {
        const r = record(batch);
        floats = r.floats;
        bytes = Math.max(4, 4 * floats);
        staging = batch.own(this.device.createBuffer({ size: bytes, usage: USAGE_MAP_READ | USAGE_COPY_DST }));
        batch.encoder.copyBufferToBuffer(r.result, 0, staging, 0, bytes);
        this.device.queue.submit([batch.encoder.finish()]);
      } finally {
        const oom = await this.device.popErrorScope();
        const invalid = await this.device.popErrorScope();
        if (oom) throw new Error(`GPU out of memory: ${oom.message}`);
        if (invalid) throw new Error(`GPU validation error: ${invalid.message}`);
      }
      await staging.mapAsync(MAP_READ, 0, bytes);
      const out = new Float32Array(floats);
      out.set(new Float32Array(staging.getMappedRange(0, bytes), 0, floats));
      staging.unmap();
      return out;
    } finally {
      batch.release();
    }
  }

  private pipeline(kernel: KernelName): GPUComputePipeline {
    let p = this.pipelines.get(kernel);
    if (!p) {
      const module = this.device.createShaderModule({ code: SOURCES[kernel], label: kernel });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: kernel });
      this.pipelines.set(kernel, p);
    }
    return p;
  }

  private check(): void {
    if (this.destroyed) throw new Error('GpuRuntime: used after destroy()');
  }
}
