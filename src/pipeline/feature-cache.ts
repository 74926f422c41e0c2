/**
 * A cache of per-case feature rows, so `lungtumor features` can run once over a cohort and
 * training reuse it. An entry is used only when its key matches: the scan's content (SHA-256 of its
 * bytes), the plans that shape the rows (working spacing, eligible HU) and the feature list and
 * version. The content, not the path, so a cache stays valid for the same scans under another
 * folder: a cohort copied or mounted elsewhere, another node of a cluster, a rerun's links.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic.js';
import { FEATURE_NAMES } from '../features/index.js';
import type { VoxelFeatureTable } from '../candidates/candidates.js';
import type { Plans } from './plans.js';
import { packageVersions } from './model-folder.js';

const FORMAT = 'lungtumor-feature-cache';

/** SHA-256 of a scan's bytes: its file's, or (a DICOM series' folder) those of every file in it, by name. */
function scanDigest(path: string): string {
  const hash = createHash('sha256');
  if (!statSync(path).isDirectory()) return hash.update(readFileSync(path)).digest('hex');
  for (const name of readdirSync(path).sort()) {
    const f = join(path, name);
    if (!statSync(f).isFile()) continue;
    // The name and length frame each file, so moving bytes between files changes the digest.
    const bytes = readFileSync(f);
    hash.update(`${name}\0${bytes.length}\0`).update(bytes);
  }
  return hash.digest('hex');
}

export function featureCacheKey(scanFile: string, plans: Plans): string {
  return createHash('sha256')
    .update(JSON.stringify({
      format: FORMAT,
      version: packageVersions().lungtumor,
      scan: scanDigest(scanFile),
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
