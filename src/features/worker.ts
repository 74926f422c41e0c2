/**
 * Worker thread entry for feature extraction: each message carries one slab and the shared
 * buffers of its extraction (CT box, voxel list, slab order, output rows; sharing them costs
 * nothing), the worker computes the slab and answers. Rows of different slabs are disjoint, so
 * workers never write the same bytes. The thread lives for its FeatureExtractor, reusing its
 * buffers from slab to slab. A message may instead carry a range of feature rows to score with
 * the voxel classifier's trees (FeatureExtractor.predictGbdt), so that stage uses every core too.
 */
import { parentPort } from 'node:worker_threads';
import type { Vec3 } from '../core/volume.js';
import { compileTrees, type CompiledTrees } from '../classifier/trees.js';
import { gbdtProbabilities, type GbdtScorer } from '../classifier/gbdt.js';
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
  kind: 'slab';
  /** Which extraction this slab belongs to (replies carry it back). */
  run: number;
  data: SlabData;
  slab: number;
  start: number;
  end: number;
}

/** Message to a worker: the probabilities of rows [start, end) of `rows` into the same range of `out`. */
export interface TreesMessage {
  kind: 'trees';
  run: number;
  /** Index of this range among the call's ranges (replies carry it back). */
  slab: number;
  scorer: GbdtScorer;
  /** Float32 rows, scorer.featureCount floats each, from `rowsOffset` floats into the buffer. */
  rows: SharedArrayBuffer;
  rowsOffset: number;
  out: SharedArrayBuffer;
  start: number;
  end: number;
}

export type WorkerTask = SlabMessage | TreesMessage;

export type WorkerReply =
  | { run: number; slab: number; ok: true; timingsMs: Record<string, number> }
  | { run: number; slab: number; ok: false; error: string };

function serve(): void {
  const port = parentPort;
  if (!port) return;
  // Reused across this worker's slabs (see Float32Scratch).
  const scratch = new Float32Scratch();
  // The trees of the latest scoring call, compiled once for all its ranges.
  let compiled: { run: number; trees: CompiledTrees } | null = null;
  port.on('message', (msg: WorkerTask) => {
    let reply: WorkerReply;
    try {
      const timingsMs: Record<string, number> = {};
      if (msg.kind === 'trees') {
        const t0 = performance.now();
        const F = msg.scorer.featureCount;
        const rows = new Float32Array(msg.rows, 4 * (msg.rowsOffset + msg.start * F), (msg.end - msg.start) * F);
        const out = new Float32Array(msg.out, 4 * msg.start, msg.end - msg.start);
        if (compiled?.run !== msg.run) compiled = { run: msg.run, trees: compileTrees(msg.scorer.trees) };
        gbdtProbabilities(compiled.trees, msg.scorer.baseScore, rows, F, out);
        timingsMs.gbdt = performance.now() - t0;
      } else {
        const d = msg.data;
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
      }
      reply = { run: msg.run, slab: msg.slab, ok: true, timingsMs };
    } catch (err) {
      reply = { run: msg.run, slab: msg.slab, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
    }
    port.postMessage(reply);
  });
}

serve();
