/**
 * Worker thread entry for feature extraction: each message carries one slab and the shared
 * buffers of its extraction (CT box, voxel list, slab order, output rows; sharing them costs
 * nothing), the worker computes the slab and answers. Rows of different slabs are disjoint, so
 * workers never write the same bytes. The thread lives for its FeatureExtractor, reusing its
 * buffers from slab to slab.
 */
import { parentPort } from 'node:worker_threads';
import type { Vec3 } from '../core/volume.js';
import { Float32Scratch } from './filters.js';
import { computeSlab, type Job, type Region } from './slab.js';

export interface SlabData {
  /** Clamped CT on `ctBox`. */
  ct: SharedArrayBuffer;
  ctBox: Region;
  dims: Vec3;
  spacingMm: Vec3;
  voxels: SharedArrayBuffer;
  /** Positions in the voxel list, grouped by slab. */
  order: SharedArrayBuffer;
  rows: SharedArrayBuffer;
  stride: number;
  jobs: Job[];
}

/** Message to a worker: compute the slab whose members are order[start, end). */
export interface SlabMessage {
  /** Which extraction this slab belongs to (replies carry it back). */
  run: number;
  data: SlabData;
  slab: number;
  start: number;
  end: number;
}

export type WorkerReply =
  | { run: number; slab: number; ok: true; timingsMs: Record<string, number> }
  | { run: number; slab: number; ok: false; error: string };

function serve(): void {
  const port = parentPort;
  if (!port) return;
  // Reused across this worker's slabs (see Float32Scratch).
  const scratch = new Float32Scratch();
  port.on('message', (msg: SlabMessage) => {
    let reply: WorkerReply;
    try {
      const d = msg.data;
      const timingsMs: Record<string, number> = {};
      computeSlab(
        {
          ct: new Float32Array(d.ct),
          ctBox: d.ctBox,
          dims: d.dims,
          spacingMm: d.spacingMm,
          voxels: new Int32Array(d.voxels),
          members: new Int32Array(d.order).subarray(msg.start, msg.end),
          jobs: d.jobs,
          rows: new Float32Array(d.rows),
          stride: d.stride,
          scratch,
        },
        timingsMs,
      );
      reply = { run: msg.run, slab: msg.slab, ok: true, timingsMs };
    } catch (err) {
      reply = { run: msg.run, slab: msg.slab, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
    }
    port.postMessage(reply);
  });
}

serve();
