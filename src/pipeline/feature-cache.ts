/**
 * A cache of per-case feature rows, so `lungtumor features` can run once over a cohort and
 * training reuse it. An entry is used only when its key matches: the scan file (path, size, time),
 * the plans that shape the rows (working spacing, eligible HU) and the feature list and version.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../core/atomic.js';
import { FEATURE_NAMES } from '../features/index.js';
import type { VoxelFeatureTable } from '../candidates/candidates.js';
import type { Plans } from './plans.js';
import { packageVersions } from './model-folder.js';

const FORMAT = 'lungtumor-feature-cache';

/** Size and modification time of a scan: its file's, or (a DICOM series' folder) those of every file in it. */
function scanStamp(path: string): { size: number; mtimeMs: number } | { files: [string, number, number][] } {
  const st = statSync(path);
  if (!st.isDirectory()) return { size: st.size, mtimeMs: st.mtimeMs };
  return {
    files: readdirSync(path).sort().flatMap((name): [string, number, number][] => {
      const f = statSync(join(path, name));
      return f.isFile() ? [[name, f.size, f.mtimeMs]] : [];
    }),
  };
}

export function featureCacheKey(scanFile: string, plans: Plans): string {
  return createHash('sha256')
    .update(JSON.stringify({
      format: FORMAT,
      version: packageVersions().lungtumor,
      file: resolve(scanFile),
      ...scanStamp(scanFile),
      spacing: plans.workingSpacingMm,
      eligibleMinHu: plans.eligibleMinHu,
      features: FEATURE_NAMES,
    }))
    .digest('hex');
}

const paths = (dir: string, id: string): { meta: string; bin: string } => ({
  meta: join(dir, `${id}.features.json`),
  bin: join(dir, `${id}.features.bin`),
});

/** The cached rows of a case, or null when absent, stale or unreadable (then they are recomputed). */
export function readFeatureCache(dir: string, id: string, key: string): VoxelFeatureTable | null {
  const p = paths(dir, id);
  if (!existsSync(p.meta) || !existsSync(p.bin)) return null;
  try {
    const meta = JSON.parse(readFileSync(p.meta, 'utf8')) as { format: string; key: string; names: string[]; voxels: number };
    if (meta.format !== FORMAT || meta.key !== key || !Array.isArray(meta.names)) return null;
    const buf = readFileSync(p.bin);
    const n = meta.voxels;
    const F = meta.names.length;
    if (buf.byteLength !== 4 * n * (1 + F)) return null;
    const copy = new Uint8Array(buf).buffer;
    return { names: meta.names, voxels: new Int32Array(copy, 0, n), rows: new Float32Array(copy, 4 * n, n * F) };
  } catch {
    return null;
  }
}

export function writeFeatureCache(dir: string, id: string, key: string, table: VoxelFeatureTable): void {
  const p = paths(dir, id);
  const n = table.voxels.length;
  const bin = new Uint8Array(4 * (n + table.rows.length));
  bin.set(new Uint8Array(table.voxels.buffer, table.voxels.byteOffset, 4 * n), 0);
  bin.set(new Uint8Array(table.rows.buffer, table.rows.byteOffset, table.rows.byteLength), 4 * n);
  writeFileAtomic(p.bin, bin);
  writeFileAtomic(p.meta, `${JSON.stringify({ format: FORMAT, key, names: table.names, voxels: n })}\n`);
}
