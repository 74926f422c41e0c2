/**
 * `node dist/scripts/bench_gpu.js [--scans N] [--workers N] [--volumes DIR] [--out FILE]`
 *
 * Feature extraction per scan on each path: the TypeScript path (worker threads) and, when a
 * WebGPU adapter exists (hardware or Mesa's llvmpipe), the GPU path, on the scan's working grid
 * (as the pipeline sees it) at the lung voxels the pipeline would ask for (approximately: lungs
 * and −700…300 HU). Reports wall seconds, per-job milliseconds and the largest difference between
 * the paths. Scans from --volumes (a folder of NIfTI CTs), else the real ones in ../shared/data/real;
 * without either a synthetic block. Writes JSON
 * (default bench-out/bench_gpu.json) and prints it.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../src/core/atomic.js';
import type { Vec3 } from '../src/core/volume.js';
import { readNifti } from '../src/io/nifti.js';
import { toWorkingScan } from '../src/pipeline/scan.js';
import { workingSpacingFor } from '../src/pipeline/plans.js';
import { buildFeatureContext, findLungs, featureExtractor } from '../src/features/index.js';
import { GpuFeatures } from '../src/features/gpu.js';
import { GpuRuntime } from '../gpu-kernels/runtime.js';
import { packageRoot } from '../src/pipeline/model-folder.js';

interface Scan {
  name: string;
  hu: Float32Array;
  dims: Vec3;
  spacingMm: Vec3;
}

function scansIn(dir: string, max: number): Scan[] {
  if (!existsSync(dir)) return [];
  const files = readdirSync(dir).filter((f) => /\.nii(\.gz)?$/.test(f)).sort().slice(0, max);
  return files.map((f) => {
    const ct = readNifti(join(dir, f));
    const w = toWorkingScan(ct, workingSpacingFor(ct.spacing));
    return { name: f, hu: w.hu, dims: w.grid.dims, spacingMm: w.grid.spacingMm };
  });
}

function syntheticScan(): Scan {
  const dims: Vec3 = [160, 140, 90];
  const hu = new Float32Array(dims[0] * dims[1] * dims[2]);
  for (let i = 0; i < hu.length; i++) hu[i] = -850 + 60 * Math.sin(i * 0.37) + 40 * Math.cos(i * 0.011);
  return { name: 'synthetic-160x140x90', hu, dims, spacingMm: [1.75, 1.75, 2.5] };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { scans: { type: 'string' }, workers: { type: 'string' }, volumes: { type: 'string' }, out: { type: 'string' } },
  });
  const workers = Number(values.workers ?? 2);
  const out = values.out ?? join('bench-out', 'bench_gpu.json');
  const volumes = values.volumes ?? resolve(packageRoot(), '..', 'shared', 'data', 'real', 'train', 'volume');
  const scans = scansIn(volumes, Number(values.scans ?? 1));
  if (scans.length === 0) scans.push(syntheticScan());
  const opened = await GpuRuntime.open();
  const rt = opened.runtime;
  const gpu = rt ? new GpuFeatures(rt) : null;
  const cpuFx = featureExtractor({ workers });
  const gpuFx = gpu ? featureExtractor({ workers, gpu }) : null;
  const results: Record<string, unknown>[] = [];
  try {
    for (const s of scans) {
      const lung = findLungs(s.hu, s.dims, s.spacingMm);
      const picks: number[] = [];
      for (let i = 0; i < s.hu.length; i++) if ((!lung.found || lung.lungs[i]) && s.hu[i]! >= -700 && s.hu[i]! <= 300) picks.push(i);
      const voxels = Int32Array.from(picks);
      const ctx = buildFeatureContext(lung, s.dims, s.spacingMm);
      const t0 = performance.now();
      const cpu = await cpuFx.extract(s.hu, s.dims, s.spacingMm, ctx, voxels);
      const cpuS = (performance.now() - t0) / 1000;
      const row: Record<string, unknown> = {
        scan: s.name,
        dims: s.dims,
        spacing_mm: s.spacingMm,
        voxels: voxels.length,
        cpu: { seconds: round(cpuS), workers, timings_ms: roundAll(cpu.timingsMs) },
      };
      if (gpuFx) {
        const t1 = performance.now();
        const g = await gpuFx.extract(s.hu, s.dims, s.spacingMm, ctx, voxels);
        const gpuS = (performance.now() - t1) / 1000;
        row.gpu = { seconds: round(gpuS), adapter: rt!.adapter.description, software: rt!.adapter.software, timings_ms: roundAll(g.timingsMs), worst_columns_vs_cpu: worstColumns(g.names, g.rows, cpu.rows) };
      } else {
        row.gpu = { skipped: opened.reason };
      }
      results.push(row);
    }
  } finally {
    await cpuFx.close();
    await gpuFx?.close();
    gpu?.close();
  }
  const report = { node: process.version, results };
  writeFileAtomic(out, JSON.stringify(report, null, 2) + '\n');
  console.log(JSON.stringify(report, null, 2));
}

/** The three columns with the largest max |gpu − cpu| / max |cpu| (and how many values differ by more than 1e-4 of the range). */
function worstColumns(names: readonly string[], a: Float32Array, b: Float32Array): { name: string; rel: number; beyond_1e4: number }[] {
  const F = names.length;
  const m = a.length / F;
  const cols = names.map((name, c) => {
    let scale = 0;
    for (let k = 0; k < m; k++) scale = Math.max(scale, Math.abs(b[k * F + c]!));
    const s = scale > 0 ? scale : 1;
    let rel = 0;
    let beyond = 0;
    for (let k = 0; k < m; k++) {
      const e = Math.abs(a[k * F + c]! - b[k * F + c]!) / s;
      rel = Math.max(rel, e);
      if (e > 1e-4) beyond++;
    }
    return { name, rel: Number(rel.toExponential(2)), beyond_1e4: beyond };
  });
  return cols.sort((x, y) => y.rel - x.rel).slice(0, 3);
}

const round = (x: number): number => Math.round(x * 1000) / 1000;
const roundAll = (r: Record<string, number>): Record<string, number> => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Math.round(v)]));

await main();
