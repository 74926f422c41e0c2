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
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GRADMAG_WGSL, PASS_WGSL, POINTS_WGSL, WORKGROUP_SIZE } from './wgsl.js';
import { NO_ADAPTER, NO_GPU_DEVICE, describeAdapter } from './adapter.js';

export { NO_ADAPTER, NO_GPU_DEVICE, SOFTWARE_ADAPTER_NAMES, describeAdapter } from './adapter.js';

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

/** A folder's entries; none when it cannot be read (absent, not a folder, no permission). */
function entriesOf(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Debian/Ubuntu multiarch folder names of the dynamic linker, by Node's `process.arch`. */
const MULTIARCH: Partial<Record<string, string>> = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu', arm: 'arm-linux-gnueabihf', ppc64: 'powerpc64le-linux-gnu', s390x: 's390x-linux-gnu' };

/**
 * The folders Linux's dynamic linker searches for a library: LD_LIBRARY_PATH (the linker's own
 * setting, read here only to see what it sees), the folders listed in /etc/ld.so.conf.d/*.conf,
 * and the default system folders.
 */
export function libraryDirs(ldLibraryPath: string | undefined, confDir = '/etc/ld.so.conf.d', arch = process.arch): string[] {
  const dirs = (ldLibraryPath ?? '').split(':').filter((d) => d.length > 0);
  for (const f of entriesOf(confDir).filter((n) => n.endsWith('.conf')).sort()) {
    let text = '';
    try {
      text = readFileSync(join(confDir, f), 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const d = line.replace(/#.*/, '').trim();
      if (d.startsWith('/')) dirs.push(d);
    }
  }
  const triplet = MULTIARCH[arch];
  for (const root of ['/lib', '/usr/lib', '/lib64', '/usr/lib64', '/usr/local/lib']) {
    dirs.push(root);
    if (triplet) dirs.push(`${root}/${triplet}`);
  }
  return [...new Set(dirs)];
}

/** The Vulkan loader Dawn opens on Linux. */
export const VULKAN_LOADER = 'libvulkan.so.1';

/**
 * The Vulkan driver manifests (ICD .json files) the Vulkan loader would find on Linux: those named
 * by VK_DRIVER_FILES / VK_ICD_FILENAMES when set (they replace the search), else those in the
 * loader's search folders (XDG config and data folders, /etc, /usr/local/etc, ~/.local/share) and
 * VK_ADD_DRIVER_FILES. `env` is the loader's environment, read only to see what it sees.
 */
export function vulkanDriverManifests(env: Readonly<Record<string, string | undefined>>): string[] {
  const list = (v: string | undefined): string[] => (v ?? '').split(':').filter((d) => d.length > 0);
  const jsonIn = (path: string): string[] => {
    if (path.endsWith('.json')) return existsSync(path) ? [path] : [];
    return entriesOf(path).filter((f) => f.endsWith('.json')).sort().map((f) => join(path, f));
  };
  const override = list(env.VK_DRIVER_FILES).concat(list(env.VK_ICD_FILENAMES));
  if (override.length > 0) return override.flatMap(jsonIn);
  const configDirs = list(env.XDG_CONFIG_DIRS ?? '/etc/xdg');
  const dataDirs = list(env.XDG_DATA_DIRS ?? '/usr/local/share:/usr/share');
  const home = env.HOME ? [env.XDG_DATA_HOME ?? join(env.HOME, '.local', 'share')] : [];
  const dirs = [...configDirs, '/usr/local/etc', '/etc', ...dataDirs, ...home].map((d) => join(d, 'vulkan', 'icd.d'));
  return [...new Set(dirs)].flatMap(jsonIn).concat(list(env.VK_ADD_DRIVER_FILES).flatMap(jsonIn));
}

/**
 * Why Dawn cannot have a Vulkan adapter on this Linux machine, before asking it: without the Vulkan
 * loader or without any driver manifest, Dawn's `create` / `requestAdapter` print native warnings
 * with source-file stack lines to stderr ("Couldn't load Vulkan … at operator() (…BackendVk.cpp)",
 * "vkCreateInstance: Found no drivers! … at CheckVkSuccessImpl") before reporting no adapter. Null
 * when both are there, and on other platforms (Metal, Direct3D: not checked).
 */
export function missingVulkan(libDirs: readonly string[], manifests: readonly string[], platform = process.platform): string | null {
  if (platform !== 'linux') return null;
  if (!libDirs.some((d) => existsSync(join(d, VULKAN_LOADER)))) {
    return `no WebGPU: no Vulkan loader (${VULKAN_LOADER}) on this machine (install libvulkan1 and a Vulkan driver)`;
  }
  if (manifests.length === 0) return 'no WebGPU: no Vulkan driver on this machine (no ICD manifest in the Vulkan loader\'s folders)';
  return null;
}

/** Device nodes of GPUs a Vulkan driver can drive: NVIDIA, Mesa's (DRM render nodes), WSL's. */
export function gpuDeviceNodes(devDir = '/dev'): string[] {
  const nodes: string[] = [];
  for (const f of entriesOf(devDir)) if (/^nvidia\d+$/.test(f) || f === 'dxg') nodes.push(join(devDir, f));
  for (const f of entriesOf(join(devDir, 'dri'))) if (f.startsWith('renderD')) nodes.push(join(devDir, 'dri', f));
  return nodes.sort();
}


export interface DawnInstance {
  gpu: GPU;
  /** WebGPU's flag objects (GPUBufferUsage, …) that Dawn's bindings bring. */
  globals: object;
}

/**
 * A Dawn WebGPU instance from the `webgpu` package, or why there is none (the package or its native
 * part does not load, or Linux has no Vulkan loader or driver; with `hardwareOnly`, or no GPU device). Shared by the feature kernels and the refiner's
 * tfjs webgpu backend.
 */
export async function openDawn(opts: { hardwareOnly?: boolean } = {}): Promise<DawnInstance | { reason: string }> {
  const missing = missingVulkan(libraryDirs(process.env.LD_LIBRARY_PATH), vulkanDriverManifests(process.env));
  if (missing) return { reason: missing };
  // Choosing automatically refuses software adapters anyway; not asking Dawn spares its warnings
  // (llvmpipe: "maxDynamic…BuffersPerPipelineLayout artificially reduced") and the probe's time.
  if (opts.hardwareOnly && process.platform === 'linux' && gpuDeviceNodes().length === 0) return { reason: NO_GPU_DEVICE };
  let mod: typeof import('webgpu');
  try {
    mod = await import('webgpu');
  } catch (err) {
    return { reason: `the webgpu package did not load (${err instanceof Error ? err.message : String(err)})` };
  }
  try {
    return { gpu: mod.create([]), globals: mod.globals };
  } catch (err) {
    return { reason: `no WebGPU adapter (${err instanceof Error ? err.message : String(err)})` };
  }
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
  static async open(opts: { hardwareOnly?: boolean } = {}): Promise<GpuOpenResult> {
    const dawn = await openDawn(opts);
    if ('reason' in dawn) return { runtime: null, reason: dawn.reason };
    const instance = dawn.gpu;
    let adapter: GPUAdapter | null;
    try {
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
