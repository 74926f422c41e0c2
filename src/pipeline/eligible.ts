/**
 * Where the voxel classifier looks: the lungs and, slice by slice, the convex hull of each lung.
 * A tumour against the mediastinum or the chest wall sits in a dent of the lung's outline, outside
 * the filled lung mask but inside its convex hull; the hull also takes in some heart and
 * mediastinum, which the classifier learns to reject.
 */
import type { Vec3 } from '../core/volume.js';
import { convexHull } from '../geometry/hull.js';

/** Marks the pixels of one slice whose centres lie inside (or on) a convex polygon. */
function fillConvexPolygon(poly: number[], nx: number, ny: number, out: Uint8Array, offset: number): void {
  const m = poly.length / 2;
  if (m === 0) return;
  let yMin = Infinity;
  let yMax = -Infinity;
  for (let k = 0; k < m; k++) {
    yMin = Math.min(yMin, poly[2 * k + 1]!);
    yMax = Math.max(yMax, poly[2 * k + 1]!);
  }
  for (let y = Math.max(0, yMin); y <= Math.min(ny - 1, yMax); y++) {
    let xl = Infinity;
    let xr = -Infinity;
    for (let k = 0; k < m; k++) {
      const x0 = poly[2 * k]!, y0 = poly[2 * k + 1]!;
      const x1 = poly[(2 * k + 2) % (2 * m)]!, y1 = poly[(2 * k + 3) % (2 * m)]!;
      if (y0 === y1) {
        if (y === y0) { xl = Math.min(xl, x0, x1); xr = Math.max(xr, x0, x1); }
        continue;
      }
      if ((y < Math.min(y0, y1)) || (y > Math.max(y0, y1))) continue;
      const x = x0 + ((y - y0) * (x1 - x0)) / (y1 - y0);
      xl = Math.min(xl, x);
      xr = Math.max(xr, x);
    }
    if (m === 1) { xl = poly[0]!; xr = poly[0]!; }
    for (let x = Math.max(0, Math.ceil(xl - 1e-9)); x <= Math.min(nx - 1, Math.floor(xr + 1e-9)); x++) out[offset + x + nx * y] = 1;
  }
}

/**
 * The lungs plus the per-slice convex hull of each side's lung (sides split at `midlineX`, in voxels).
 */
export function lungHullRegion(lungs: Uint8Array, dims: Vec3, midlineX: number): Uint8Array {
  const [nx, ny, nz] = dims;
  const plane = nx * ny;
  const out = lungs.slice();
  for (let z = 0; z < nz; z++) {
    const sides: number[][] = [[], []];
    const off = z * plane;
    for (let y = 0; y < ny; y++) {
      // Only each row's outermost lung pixels per side can be hull vertices.
      let l0 = -1, r0 = -1, l1 = -1, r1 = -1;
      for (let x = 0; x < nx; x++) {
        if (!lungs[off + x + nx * y]) continue;
        if (x < midlineX) { if (l0 < 0) l0 = x; r0 = x; } else { if (l1 < 0) l1 = x; r1 = x; }
      }
      if (l0 >= 0) sides[0]!.push(l0, y, r0, y);
      if (l1 >= 0) sides[1]!.push(l1, y, r1, y);
    }
    for (const pts of sides) {
      if (pts.length > 0) fillConvexPolygon(convexHull(pts).flatMap((k) => [pts[2 * k]!, pts[2 * k + 1]!]), nx, ny, out, off);
    }
  }
  return out;
}
