/**
 * Features at a list of voxels: filter responses computed in z-slabs of the requested voxels'
 * bounding box (worker threads through worker-threads-pool, or in-process), plus per-scan context
 * looked up from the FeatureContext. Rows are identical bit for bit whatever the number of workers
 * or the slab size (see slab.ts for why).
 */
import type { Worker, WorkerOptions } from 'node:worker_threads';
import type { Vec3 } from '../core/volume.js';
import { FEATURES, type ContextKey, type FeatureInfo } from './catalog.js';
import { contextFeatureAt, type FeatureContext } from './context.js';
import { Float32Scratch } from './filters.js';
import type { GpuFeatures } from './gpu.js';
import { computeSlab, copyClampedBox, ctBoxFor, isGpuJob, planJobs } from './slab.js';
import type { SlabData, SlabMessage, TreesMessage, WorkerReply, WorkerTask } from './worker.js';
import type { GbdtModel } from '../classifier/gbdt.js';

export interface ExtractOptions {
  /** Worker threads (default 2); 0 computes in this thread. */
  workers: number;
  /** Slices per slab (default: the box's height split into one slab per worker, at least 8 slices). */
  slabSlices?: number;
  /** Features to compute, in column order (default: all of FEATURES). */
  names?: readonly string[];
  /**
   * Device for the Gaussian and texture jobs (openFeatureDevice; owned by the caller, who closes
   * it). Absent or null: everything on the TypeScript path.
   */
  gpu?: GpuFeatures | null;
}

export interface FeatureRows {
  names: string[];
  /** n × F, row-major: row k holds the features of voxelIndices[k]. */
  rows: Float32Array;
  /** Milliseconds per filter job, summed over slabs and threads (for benchmarks). */
  timingsMs: Record<string, number>;
}

export interface PoolLike {
  acquire(filename: string, opts: WorkerOptions, cb: (err: Error | null, worker: Worker) => void): void;
  destroy(cb?: () => void): void;
}
export type PoolCtor = new (opts: { max: number }) => PoolLike;

/**
 * Where a FeatureExtractor's worker threads come from: a pool to start them with and the script
 * they run (`nodeFeatureThreads` in threads.ts; a page in a browser computes in its own thread).
 */
export interface FeatureThreads {
  Pool: PoolCtor;
  script: string;
}

function selectFeatures(names: readonly string[] | undefined): FeatureInfo[] {
  if (!names) return [...FEATURES];
  const byName = new Map(FEATURES.map((f) => [f.name, f]));
  return names.map((n) => {
    const f = byName.get(n);
    if (!f) throw new Error(`unknown feature "${n}"`);
    return f;
  });
}

/** Slabs: z ranges [z0, z1] of the voxels' box, with the positions of their voxels grouped by slab. */
function planSlabs(voxels: Int32Array, dims: Vec3, slabSlices: number): { order: Int32Array; starts: number[] } {
  const plane = dims[0] * dims[1];
  let zMin = Infinity;
  let zMax = -Infinity;
  for (let k = 0; k < voxels.length; k++) {
    const z = Math.floor(voxels[k]! / plane);
    if (z < zMin) zMin = z;
    if (z > zMax) zMax = z;
  }
  const nSlabs = voxels.length === 0 ? 0 : Math.ceil((zMax - zMin + 1) / slabSlices);
  const counts = new Int32Array(nSlabs + 1);
  const slabOf = (k: number): number => Math.floor((Math.floor(voxels[k]! / plane) - zMin) / slabSlices);
  for (let k = 0; k < voxels.length; k++) counts[slabOf(k) + 1]!++;
  for (let s = 0; s < nSlabs; s++) counts[s + 1]! += counts[s]!;
  const starts = Array.from(counts);
  const fill = counts.slice();
  const order = new Int32Array(voxels.length);
  for (let k = 0; k < voxels.length; k++) order[fill[slabOf(k)]!++] = k;
  return { order, starts };
}

/**
 * Computes features at voxels; keeps its worker threads (and their buffers, some 100 MB per
 * thread on a 250 × 250 × 134 grid) between calls, so a run over many scans pays thread start-up,
 * JIT warm-up and first-touch memory once. Calls are served one at a time. close() stops the
 * threads; idle threads never keep the process alive. After a thread crashes the extractor
 * refuses further calls (make a new one).
 */
export class FeatureExtractor {
  readonly workers: number;
  private pool: PoolLike | null = null;
  private readonly threads: Worker[] = [];
  private starting: Promise<void> | null = null;
  private readonly scratch = new Float32Scratch();
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private broken: Error | null = null;
  private runs = 0;
  private readonly gpu: GpuFeatures | null;
  private readonly threadSource: FeatureThreads | null;

  /**
   * `workers`: threads (default 2; they need `threads`: in Node, featureExtractor() in threads.ts
   * gives them); 0 computes in the calling thread. `gpu`: device for the Gaussian and texture jobs
   * (not closed by close(): the caller owns it).
   */
  constructor(opts: { workers?: number; gpu?: GpuFeatures | null; threads?: FeatureThreads } = {}) {
    this.workers = Math.max(0, Math.floor(opts.workers ?? 2));
    this.gpu = opts.gpu ?? null;
    this.threadSource = opts.threads ?? null;
    if (this.workers > 0 && !this.threadSource) throw new Error(`FeatureExtractor: ${this.workers} worker threads need a thread source (featureExtractor() makes one in Node)`);
  }

  /**
   * Features of the voxels `voxelIndices` (x fastest: index = x + nx * (y + ny * z)) of the CT
   * (HU) with dims and spacing in mm; context features from `context` (buildFeatureContext, once
   * per scan). Resolves to n × F rows in the order of `names`. `context` may be a function that
   * builds it: it is then called while the worker threads compute the filters.
   */
  extract(
    ct: ArrayLike<number>,
    dims: Vec3,
    spacingMm: Vec3,
    context: FeatureContext | (() => FeatureContext),
    voxelIndices: Int32Array,
    opts: Pick<Partial<ExtractOptions>, 'slabSlices' | 'names'> = {},
  ): Promise<FeatureRows> {
    return this.enqueue(() => this.run(ct, dims, spacingMm, context, voxelIndices, opts));
  }

  /** Runs `work` after the calls already made (one at a time: they share the threads and buffers). */
  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('FeatureExtractor: used after close()'));
    const run = this.queue.then(work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Starts the worker threads now rather than at the first call, so their start-up (a new V8
   * isolate loading the filter modules each) overlaps the caller's reading and lung finding on the
   * other core. A failure to start surfaces at the first call.
   */
  start(): void {
    if (this.workers > 0 && !this.closed) this.startThreads().catch(() => undefined);
  }

  /** Stops the worker threads once the calls already made are done. */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
    // Threads still starting (start()) are stopped here like the others: the pool would stop them
    // through worker.terminate's deprecated callback form, which prints a warning.
    if (this.starting) await this.starting.catch(() => undefined);
    await Promise.all(this.threads.map((w) => w.terminate()));
    this.threads.length = 0;
    this.pool?.destroy();
    this.pool = null;
  }

  private async run(
    ct: ArrayLike<number>,
    dims: Vec3,
    spacingMm: Vec3,
    contextArg: FeatureContext | (() => FeatureContext),
    voxelIndices: Int32Array,
    opts: Pick<Partial<ExtractOptions>, 'slabSlices' | 'names'>,
  ): Promise<FeatureRows> {
    if (this.broken) throw this.broken;
    const n = dims[0] * dims[1] * dims[2];
    if (ct.length !== n) throw new Error(`extractFeatures: CT has ${ct.length} voxels for a ${dims.join('x')} grid`);
    for (let k = 0; k < voxelIndices.length; k++) {
      const v = voxelIndices[k]!;
      if (!(v >= 0 && v < n)) throw new Error(`extractFeatures: voxel index ${v} outside the ${dims.join('x')} grid`);
    }
    const feats = selectFeatures(opts.names);
    const stride = feats.length;
    const names = feats.map((f) => f.name);
    const filterIdx: number[] = [];
    const contextIdx: { col: number; key: ContextKey }[] = [];
    feats.forEach((f, col) => {
      if (f.spec.kind === 'context') contextIdx.push({ col, key: f.spec.key });
      else filterIdx.push(col);
    });
    const jobs = planJobs(
      filterIdx.map((c) => feats[c]!.spec),
      filterIdx,
    );
    // With a device, its jobs leave the TypeScript path (which then runs exactly as before on the rest).
    const gpu = this.gpu;
    const gpuJobs = gpu ? jobs.filter(isGpuJob) : [];
    const cpuJobs = gpuJobs.length > 0 ? jobs.filter((j) => !isGpuJob(j)) : jobs;
    const m = voxelIndices.length;
    const timingsMs: Record<string, number> = {};
    let context: FeatureContext | null = typeof contextArg === 'function' ? null : contextArg;
    const needContext = (): FeatureContext => {
      if (!context) {
        const t0 = performance.now();
        context = (contextArg as () => FeatureContext)();
        timingsMs.context_build = performance.now() - t0;
      }
      return context;
    };
    let rows: Float32Array;
    if (jobs.length === 0 || m === 0) {
      rows = new Float32Array(m * stride);
    } else {
      const plane = dims[0] * dims[1];
      let zMin = Infinity;
      let zMax = -Infinity;
      for (let k = 0; k < m; k++) {
        const z = Math.floor(voxelIndices[k]! / plane);
        if (z < zMin) zMin = z;
        if (z > zMax) zMax = z;
      }
      // One slab per thread by default: every slab pays its halos, so fewer slabs cost less.
      const threads = Math.max(1, this.workers);
      const slabSlices = Math.max(1, Math.floor(opts.slabSlices ?? Math.max(8, Math.ceil((zMax - zMin + 1) / threads))));
      // Only the box the jobs need is copied (clamped), into shared memory when threads read it.
      const ctBox = ctBoxFor(voxelIndices, dims, jobs, spacingMm);
      const boxN = ctBox.dims[0] * ctBox.dims[1] * ctBox.dims[2];
      const { order, starts } = planSlabs(voxelIndices, dims, slabSlices);
      if (this.workers === 0) {
        rows = new Float32Array(m * stride);
        const boxCt = copyClampedBox(ct, dims, ctBox, this.scratch.take(boxN));
        for (let s = 0; cpuJobs.length > 0 && s + 1 < starts.length; s++) {
          const members = order.subarray(starts[s]!, starts[s + 1]!);
          computeSlab({ ct: boxCt, ctBox, dims, spacingMm, voxels: voxelIndices, members, jobs: cpuJobs, rows, stride, scratch: this.scratch }, timingsMs);
        }
        if (gpu && gpuJobs.length > 0) await gpu.computeJobs(boxCt, ctBox, dims, spacingMm, voxelIndices, gpuJobs, rows, stride, timingsMs);
        this.scratch.give(boxCt);
      } else {
        const share = (a: Int32Array): SharedArrayBuffer => {
          const b = new SharedArrayBuffer(Math.max(1, a.length) * 4);
          new Int32Array(b).set(a);
          return b;
        };
        const ctBuf = new SharedArrayBuffer(boxN * 4);
        copyClampedBox(ct, dims, ctBox, new Float32Array(ctBuf));
        const rowBuf = new SharedArrayBuffer(m * stride * 4);
        this.runs++;
        const data: SlabData = { ct: ctBuf, ctBox, dims, spacingMm, voxels: share(voxelIndices), order: share(order), rows: rowBuf, stride, jobs: cpuJobs };
        const slabs: SlabMessage[] = [];
        for (let s = 0; cpuJobs.length > 0 && s + 1 < starts.length; s++) {
          if (starts[s + 1]! > starts[s]!) slabs.push({ kind: 'slab', run: this.runs, data, slab: s, start: starts[s]!, end: starts[s + 1]! });
        }
        await this.startThreads();
        const done = this.postTasks(slabs, timingsMs);
        // The device's jobs run while the threads compute theirs (their columns are disjoint).
        const gpuDone = gpu && gpuJobs.length > 0 ? gpu.computeJobs(new Float32Array(ctBuf), ctBox, dims, spacingMm, voxelIndices, gpuJobs, new Float32Array(rowBuf), stride, timingsMs) : undefined;
        const both = Promise.all([done, gpuDone]);
        if (contextIdx.length > 0) needContext();
        await both;
        // The shared buffer is returned as is: copying 10⁶–10⁷ floats costs more than it is worth.
        rows = new Float32Array(rowBuf);
      }
    }
    if (contextIdx.length > 0) {
      const ctx = needContext();
      const t0 = performance.now();
      const plane = dims[0] * dims[1];
      for (let k = 0; k < m; k++) {
        const v = voxelIndices[k]!;
        const x = v % dims[0];
        const y = Math.floor(v / dims[0]) % dims[1];
        const z = Math.floor(v / plane);
        for (const { col, key } of contextIdx) rows[k * stride + col] = contextFeatureAt(ctx, key, x, y, z);
      }
      timingsMs.context_lookup = performance.now() - t0;
    }
    return { names, rows, timingsMs };
  }

  private startThreads(): Promise<void> {
    if (!this.starting) {
      this.starting = new Promise<void>((resolve, reject) => {
        const { Pool, script } = this.threadSource!;
        this.pool = new Pool({ max: this.workers });
        let started = 0;
        for (let i = 0; i < this.workers; i++) {
          this.pool.acquire(script, {}, (err, w) => {
            if (err) {
              reject(err);
              return;
            }
            w.unref();
            this.threads.push(w);
            if (++started === this.workers) resolve();
          });
        }
      });
    }
    return this.starting;
  }

  /**
   * The voxel classifier's P(tumour) for each of `rows` (model.featureNames.length floats a row),
   * the rows split between the threads: the same numbers as model.predictProba(rows), in about
   * 1/threads of its time. Calls are served one at a time, like extract's.
   */
  predictGbdt(model: GbdtModel, rows: Float32Array): Promise<Float32Array> {
    return this.enqueue(() => this.runGbdt(model, rows));
  }

  private async runGbdt(model: GbdtModel, rows: Float32Array): Promise<Float32Array> {
    if (this.broken) throw this.broken;
    const scorer = model.scorer();
    const F = scorer.featureCount;
    const n = F > 0 ? rows.length / F : 0;
    // Few rows are not worth a message round trip.
    if (this.workers === 0 || n < 4096 || !Number.isInteger(n)) return model.predictProba(rows);
    let shared: SharedArrayBuffer;
    let rowsOffset: number;
    if (rows.buffer instanceof SharedArrayBuffer) {
      shared = rows.buffer;
      rowsOffset = rows.byteOffset / 4;
    } else {
      shared = new SharedArrayBuffer(rows.length * 4);
      new Float32Array(shared).set(rows);
      rowsOffset = 0;
    }
    const out = new SharedArrayBuffer(n * 4);
    this.runs++;
    // Two ranges a thread, so one that starts late still finishes with the others.
    const parts = 2 * this.workers;
    const tasks: TreesMessage[] = [];
    for (let k = 0; k < parts; k++) {
      const start = Math.floor((k * n) / parts);
      const end = Math.floor(((k + 1) * n) / parts);
      if (end > start) tasks.push({ kind: 'trees', run: this.runs, slab: k, scorer, rows: shared, rowsOffset, out, start, end });
    }
    await this.startThreads();
    await this.postTasks(tasks, {});
    return new Float32Array(out);
  }

  /**
   * Hands tasks (slabs, row ranges) to the (started) threads as they come free; the first ones
   * are posted before this returns. Rejects on the first failure.
   */
  private postTasks(slabs: WorkerTask[], timingsMs: Record<string, number>): Promise<void> {
    const threads = this.threads;
    const cleanups: (() => void)[] = [];
    const finish = (): void => {
      for (const c of cleanups) c();
    };
    return new Promise<void>((resolve, reject) => {
      let next = 0;
      let finished = 0;
      let failed = false;
      const fail = (err: Error): void => {
        if (failed) return;
        failed = true;
        this.broken = err;
        reject(err);
      };
      if (slabs.length === 0) {
        resolve();
        return;
      }
      for (const w of threads) {
        w.ref();
        const onMessage = (reply: WorkerReply): void => {
          // Late replies of an earlier, failed extraction are not ours.
          if (failed || reply.run !== slabs[0]!.run) return;
          if (!reply.ok) {
            // A slab's own error leaves the thread usable.
            failed = true;
            reject(new Error(`feature worker failed on slab ${reply.slab}: ${reply.error}`));
            return;
          }
          for (const [k, v] of Object.entries(reply.timingsMs)) timingsMs[k] = (timingsMs[k] ?? 0) + v;
          if (++finished === slabs.length) resolve();
          else if (next < slabs.length) w.postMessage(slabs[next++]!);
        };
        const onError = (e: Error): void => fail(e);
        const onExit = (code: number): void => fail(new Error(`feature worker exited with code ${code}`));
        w.on('message', onMessage);
        w.on('error', onError);
        w.on('exit', onExit);
        cleanups.push(() => {
          w.off('message', onMessage);
          w.off('error', onError);
          w.off('exit', onExit);
          w.unref();
        });
        if (next < slabs.length) w.postMessage(slabs[next++]!);
      }
    }).finally(finish);
  }
}
