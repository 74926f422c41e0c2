/**
 * The fixed anatomy of one synthetic patient as a paint-ordered list of shapes: couch, body wall,
 * bones, thoracic cavity, abdomen, lungs, mediastinum. Lesions and the pulmonary trees are added
 * on top by the caller (see ./case.ts). Coordinates are the anatomy frame of ./anatomy.ts (mm).
 */
import type { Rng } from '../core/random.js';
import {
  APEX_AP,
  HEART_FAT_MM,
  apexZ,
  aortaTubes,
  bodySection,
  cavitySection,
  diaphragmZ,
  ellipsoidSdf,
  mediastinumSection,
  muscleSection,
  obliqueFissureZ,
  sectionSdf,
  spineSdf,
  type Patient,
} from './anatomy.js';
import {
  Ellipsoid,
  EllipseColumn,
  ellipseHalfWidth,
  Tube,
  ZCylinder,
  clamp01,
  indexRange,
  smoothstep,
  tubeSdf,
  type EllipseSection,
  type Shape,
  type SliceCtx,
  type TubeSpec,
  type Vec,
} from './shapes.js';

/** Slab of the couch (and mattress) under the patient, as layers below a gently curved top surface. */
export interface CouchSpec {
  /** y of the top surface at x = 0, mm. */
  top: number;
  /** Curvature radius of the couch top, mm (the sides rise). */
  radius: number;
  halfWidth: number;
  /** Layers from the top down: thickness (mm) and HU. */
  layers: { thick: number; hu: number }[];
}

class CouchShape implements Shape {
  readonly zMin = -1e6;
  readonly zMax = 1e6;
  private readonly depth: number;

  constructor(private readonly spec: CouchSpec) {
    this.depth = spec.layers.reduce((s, l) => s + l.thick, 0);
  }

  paint(c: SliceCtx): void {
    const s = this.spec;
    const rise = (s.halfWidth * s.halfWidth) / (2 * s.radius);
    const [j0, j1] = indexRange(c.y0, c.sy, c.ny, s.top - this.depth - c.dy, s.top + rise + c.dy);
    const [i0, i1] = indexRange(c.x0, c.sx, c.nx, -s.halfWidth, s.halfWidth);
    const half = 0.5 * c.dy;
    for (let j = j0; j <= j1; j++) {
      const y = c.ay[j]!;
      for (let i = i0; i <= i1; i++) {
        const x = c.ax[i]!;
        const surf = s.top + (x * x) / (2 * s.radius);
        // Exact 1D partial volume: the share of the voxel's y-extent inside each layer.
        let lo = surf;
        let acc = 0;
        let cover = 0;
        for (const l of s.layers) {
          const hi = lo;
          lo = hi - l.thick;
          const ov = Math.min(hi, y + half) - Math.max(lo, y - half);
          if (ov > 0) {
            acc += ov * l.hu;
            cover += ov;
          }
        }
        if (cover <= 0) continue;
        const idx = i + c.nx * j;
        const f = cover / c.dy;
        c.hu[idx] = c.hu[idx]! * (1 - f) + acc / c.dy;
      }
    }
  }
}

/** Abdominal organs under the diaphragm: liver on the right, stomach and spleen on the left, bowel below. */
class AbdomenShape implements Shape {
  readonly zMin = -1e6;
  readonly zMax: number;

  constructor(
    private readonly p: Patient,
    private readonly liverBottom: number,
  ) {
    this.zMax = Math.max(p.domeR.top, p.domeL.top) + 10;
  }

  paint(c: SliceCtx): void {
    const p = this.p;
    const sec = cavitySection(p, c.z);
    const h = Math.max(c.dx, c.dy);
    const [j0, j1] = indexRange(c.y0, c.sy, c.ny, -sec.bPost - h, sec.bAnt + h);
    const [i0, i1] = indexRange(c.x0, c.sx, c.nx, -sec.a - h, sec.a + h);
    const hu = p.hu;
    const liverW = smoothstep(this.liverBottom - 15, this.liverBottom + 15, c.z);
    for (let j = j0; j <= j1; j++) {
      const y = c.ay[j]!;
      for (let i = i0; i <= i1; i++) {
        const x = c.ax[i]!;
        const dw = sectionSdf(sec, x, y);
        if (dw > h) continue;
        const dr = x >= 0 ? p.domeR : p.domeL;
        const gx = 2 * dr.k * (x - dr.x0);
        const gy = 2.6 * dr.k * (y - dr.y0);
        const g = Math.sqrt(1 + gx * gx + gy * gy);
        const dd = (c.z - diaphragmZ(p, x, y)) / g;
        const wd = (Math.abs(gx) * c.dx + Math.abs(gy) * c.dy + c.dz) / g;
        const a = Math.min(clamp01(0.5 - dw / h), clamp01(0.5 - dd / wd));
        if (a <= 0) continue;
        // Liver: right side, reaching over the midline in front.
        const liver = liverW * smoothstep(-0.3 * p.cavA, -0.1 * p.cavA, x + 0.35 * y);
        const spleen = (1 - liver) * smoothstep(-0.3 * p.cavA, -0.5 * p.cavA, x) * smoothstep(0.1 * p.cavBPost, -0.3 * p.cavBPost, y);
        const v = liver * hu.liver + spleen * (hu.blood + 5) + (1 - liver - spleen) * hu.abdomen;
        const idx = i + c.nx * j;
        c.hu[idx] = c.hu[idx]! + a * (v - c.hu[idx]!);
      }
    }
  }
}

/** Both lungs: parenchyma HU with gravity gradient, texture and fissures; writes the lung envelope mask. */
class LungsShape implements Shape {
  readonly zMin: number;
  readonly zMax: number;
  private readonly tubes: TubeSpec[];

  constructor(private readonly p: Patient) {
    this.zMin = -30;
    this.zMax = p.H + 5;
    this.tubes = [...aortaTubes(p), ...p.centralAirways];
  }

  paint(c: SliceCtx): void {
    const p = this.p;
    const z = c.z;
    const texX = p.lungTexture.map((t) => c.ax.map((x) => Math.sin(t.k[0] * x + t.phase[0])));
    const texZ = p.lungTexture.map((t) => t.amp * Math.sin(t.k[2] * z + t.phase[2]));
    const cav = cavitySection(p, z);
    const med = mediastinumSection(p, z);
    const h = Math.max(c.dx, c.dy);
    // How far beyond a boundary its partial-volume ramp can reach (half the widest voxel extent).
    const hmax = 0.5 * (c.dx + c.dy + c.dz);
    const [j0, j1] = indexRange(c.y0, c.sy, c.ny, -cav.bPost - hmax, cav.bAnt + hmax);
    const medSec: EllipseSection = { cx: med.cx, cy: med.cy, a: med.a, bAnt: med.b, bPost: med.b };
    const heart = p.heart;
    const heartNear = Math.abs(z - heart.centre[2]) < heart.semi[2] + HEART_FAT_MM + hmax;
    const heartR = Math.max(heart.semi[0], heart.semi[1]) + HEART_FAT_MM + hmax;
    const tubes = this.tubes.filter((t) => {
      const r = Math.max(t.r0, t.r1) + 3 + hmax;
      return z >= Math.min(t.a[2], t.b[2]) - r && z <= Math.max(t.a[2], t.b[2]) + r;
    });
    const tubeBox = tubes.map((t) => {
      const r = Math.max(t.r0, t.r1) + 3 + hmax;
      return [Math.min(t.a[0], t.b[0]) - r, Math.max(t.a[0], t.b[0]) + r, Math.min(t.a[1], t.b[1]) - r, Math.max(t.a[1], t.b[1]) + r] as const;
    });
    const domeTop = Math.max(p.domeR.top, p.domeL.top);
    const nearDiaphragm = z < domeTop + hmax;
    const spineA = p.spineR + 6 + hmax;
    const f = p.fissure;
    const fNorm = Math.sqrt(1 + f.slope * f.slope);
    const fW = (Math.abs(f.slope) * c.dy + c.dz) / fNorm;
    const FISSURE_MM = 0.5;
    const fA = Math.min(1, FISSURE_MM / fW);
    const fReach = 0.5 * (fW + FISSURE_MM);
    const hReach = 0.5 * (c.dz + FISSURE_MM);
    const hA = Math.min(1, FISSURE_MM / c.dz);
    const grad = p.hu.lungGradientPerMm;
    const base = p.hu.lung + grad * p.cavBAnt * 0.2;
    const nt = p.lungTexture.length;
    const texY = new Float64Array(nt);
    const fissureHu = p.hu.muscle - 20;
    // Rows are cut into spans: only near the cavity wall and the mediastinal boundary is a distance
    // needed; deep inside the mediastinum nothing is painted, elsewhere the wall term is skipped.
    const bandC = hmax / Math.min(cav.a, cav.bAnt, cav.bPost);
    const bandM = hmax / Math.min(med.a, med.b);
    const qInC = Math.max(0, 1 - bandC) ** 2;
    const qOutC = (1 + bandC) ** 2;
    const qInM = Math.max(0, 1 - bandM) ** 2;
    const qOutM = (1 + bandM) ** 2;
    for (let j = j0; j <= j1; j++) {
      const y = c.ay[j]!;
      const tyC = y / (y >= 0 ? cav.bAnt : cav.bPost);
      const wOut = ellipseHalfWidth(cav.a, tyC, qOutC);
      if (wOut < 0) continue;
      const wIn = ellipseHalfWidth(cav.a, tyC, qInC);
      const tyM = (y - med.cy) / med.b;
      const mOut = ellipseHalfWidth(med.a, tyM, qOutM);
      const mIn = ellipseHalfWidth(med.a, tyM, qInM);
      const [i0, i1] = indexRange(c.x0, c.sx, c.nx, -wOut, wOut);
      const row = c.nx * j;
      for (let t = 0; t < nt; t++) {
        const lt = p.lungTexture[t]!;
        texY[t] = texZ[t]! * Math.sin(lt.k[1] * y + lt.phase[1]);
      }
      const rowHu = base - grad * y;
      const spineRow = Math.abs(y - (p.spineY - 8)) < p.spineR + 14 + hmax;
      const heartRow = heartNear && Math.abs(y - heart.centre[1]) < heartR;
      for (let i = i0; i <= i1; i++) {
        const x = c.ax[i]!;
        const xm = Math.abs(x - med.cx);
        if (xm < mIn) continue;
        let d = -1e9;
        let w = h;
        if (Math.abs(x) > wIn) {
          d = sectionSdf(cav, x, y);
          if (d > hmax) continue;
        }
        if (xm < mOut) {
          const dm = -sectionSdf(medSec, x, y);
          if (dm > hmax) continue;
          if (dm > d) d = dm;
        }
        if (spineRow && Math.abs(x) < spineA) {
          const ds = -spineSdf(p, x, y);
          if (ds > d) d = ds;
          if (d > hmax) continue;
        }
        if (heartRow && Math.abs(x - heart.centre[0]) < heartR) {
          const dh = -(ellipsoidSdf(heart, x, y, z) - HEART_FAT_MM);
          if (dh > d) d = dh;
          if (d > hmax) continue;
        }
        for (let t = 0; t < tubes.length; t++) {
          const bx = tubeBox[t]!;
          if (x < bx[0] || x > bx[1] || y < bx[2] || y > bx[3]) continue;
          const dt = -(tubeSdf(tubes[t]!, x, y, z) - 3);
          if (dt > d) d = dt;
        }
        if (d > hmax) continue;
        if (nearDiaphragm) {
          const dr = x >= 0 ? p.domeR : p.domeL;
          const gx = 2 * dr.k * (x - dr.x0);
          const gy = 2.6 * dr.k * (y - dr.y0);
          const g = Math.sqrt(1 + gx * gx + gy * gy);
          const dd = (diaphragmZ(p, x, y) - z) / g;
          if (dd > d) {
            d = dd;
            w = (Math.abs(gx) * c.dx + Math.abs(gy) * c.dy + c.dz) / g;
          }
        }
        {
          const ex = 2 * p.apexK * (Math.abs(x) - p.apexX);
          const ey = 2 * APEX_AP * p.apexK * (y - p.apexY);
          const g = Math.sqrt(1 + ex * ex + ey * ey);
          const da = (z - apexZ(p, x, y)) / g;
          if (da > d) {
            d = da;
            w = (Math.abs(ex) * c.dx + Math.abs(ey) * c.dy + c.dz) / g;
          }
        }
        const a = clamp01(0.5 - d / w);
        if (a <= 0) continue;
        let v = rowHu;
        for (let t = 0; t < nt; t++) v += texY[t]! * texX[t]![i]!;
        // Fissures: thin pleural sheets between the lobes (oblique both sides, horizontal on the right).
        const right = x >= med.cx;
        const zOb = obliqueFissureZ(p, right, x, y);
        const fd = Math.abs(z - zOb) / fNorm;
        let fa = fd < fReach ? fA * (1 - fd / fReach) : 0;
        if (right && z > zOb) {
          const fh = Math.abs(z - f.horizontalZ);
          if (fh < hReach) fa = Math.max(fa, hA * (1 - fh / hReach));
        }
        if (fa > 0) v += fa * (fissureHu - v);
        const idx = row + i;
        c.hu[idx] = c.hu[idx]! + a * (v - c.hu[idx]!);
        if (d <= 0) c.lungs[idx] = 1;
      }
    }
  }
}

function boneTube(out: Shape[], spec: TubeSpec, cortexHu: number, marrowHu: number, cortexMm = 1.5): void {
  out.push(new Tube(spec, cortexHu));
  const r0 = spec.r0 - cortexMm;
  const r1 = spec.r1 - cortexMm;
  if (r0 > 0.3 && r1 > 0.3) out.push(new Tube({ a: spec.a, b: spec.b, r0, r1 }, marrowHu));
}

function polylineTubes(points: readonly Vec[], r: number): TubeSpec[] {
  const out: TubeSpec[] = [];
  for (let i = 0; i + 1 < points.length; i++) out.push({ a: points[i]!, b: points[i + 1]!, r0: r, r1: r });
  return out;
}

/** A point of a (possibly scaled-out) elliptic section at polar angle theta measured from the back (0) towards the front (pi), on side +1 (right) or -1. */
function sectionPoint(s: EllipseSection, theta: number, side: number, outset: number): [number, number] {
  const sx = Math.sin(theta);
  const cy = -Math.cos(theta);
  const b = cy >= 0 ? s.bAnt : s.bPost;
  const x = side * (s.a + outset) * sx;
  const y = (b + outset) * cy;
  return [x, y];
}

export interface BodyBuild {
  shapes: Shape[];
  /** Hilum points where the pulmonary trees start, per side. */
  hilum: { right: Vec; left: Vec };
  /** Left atrium, where the pulmonary veins end. */
  atrium: Vec;
  /** Bottom of the liver, mm (for reporting). */
  liverBottom: number;
}

/** Finds where the lung begins lateral to the mediastinum at (y, z), walking out from the midline. */
export function hilumPoint(p: Patient, side: number, y: number, z: number, lungSdfAt: (x: number, y: number, z: number) => number): Vec {
  const med = mediastinumSection(p, z);
  for (let x = med.cx; Math.abs(x) < p.cavA; x += side * 2) {
    if (lungSdfAt(x, y, z) < -1) return [x - side * 4, y, z];
  }
  return [med.cx + side * med.a, y, z];
}

/**
 * The patient's fixed anatomy, in paint order. `zLow`/`zHigh` bound the scanned range (mm) so
 * that repeated structures (vertebrae) are only made where they will be seen.
 */
export function buildBody(p: Patient, rng: Rng, zLow: number, zHigh: number, lungSdfAt: (x: number, y: number, z: number) => number): BodyBuild {
  const hu = p.hu;
  const s = p.scale;
  const shapes: Shape[] = [];
  // The back rests on the couch at mid-chest (higher and lower it curves away or sinks in a little).
  const backY = bodySection(p, 0.5 * p.H).bPost;
  // Couch and, sometimes, a mattress.
  const layers: { thick: number; hu: number }[] = [];
  if (rng.next() < 0.4) layers.push({ thick: rng.uniform(8, 30), hu: rng.uniform(-900, -700) });
  const skinHu = rng.uniform(150, 400);
  layers.push({ thick: 2.5, hu: skinHu }, { thick: rng.uniform(25, 45), hu: rng.uniform(-960, -850) }, { thick: 2.5, hu: skinHu });
  shapes.push(new CouchShape({ top: -backY - rng.uniform(0, 2), radius: rng.uniform(450, 800), halfWidth: rng.uniform(200, 240), layers }));

  // Body wall: skin, subcutaneous fat, (breasts), muscle.
  shapes.push(new EllipseColumn(-1e6, 1e6, (z) => bodySection(p, z), hu.skin));
  shapes.push(
    new EllipseColumn(-1e6, 1e6, (z) => {
      const b = bodySection(p, z);
      return { cx: b.cx, cy: b.cy, a: b.a - 2, bAnt: b.bAnt - 2, bPost: b.bPost - 2 };
    }, hu.fat),
  );
  if (p.sex === 'F' && rng.next() < 0.85) {
    const bz = rng.uniform(0.35, 0.5) * p.H;
    const mid = bodySection(p, bz);
    const r = rng.uniform(40, 70) * s;
    for (const side of [1, -1]) {
      const c: Vec = [side * 0.5 * p.cavA, mid.bAnt - 0.3 * r, bz];
      shapes.push(new Ellipsoid(c, [r, r * 0.8, r * 0.9], 0, hu.fat + 10));
      shapes.push(new Ellipsoid([c[0], c[1] + 0.1 * r, c[2]], [r * 0.5, r * 0.4, r * 0.5], 0, rng.uniform(-40, 10)));
    }
  }
  shapes.push(new EllipseColumn(-1e6, 1e6, (z) => muscleSection(p, z), hu.muscle));

  // Scapulae: thin bony plates on the upper back, outside the ribs.
  for (const side of [1, -1]) {
    const zc = rng.uniform(0.68, 0.78) * p.H;
    const sec = cavitySection(p, zc);
    const theta = rng.uniform(0.75, 0.95);
    const [x, y] = sectionPoint(sec, theta, side, 14 * s);
    const tx = side * sec.a * Math.cos(theta);
    const ty = sec.bPost * Math.sin(theta);
    shapes.push(new Ellipsoid([x, y, zc], [42 * s, 3, 62 * s], Math.atan2(ty, tx), hu.cortex * 0.6));
  }

  // Thoracic cavity: mediastinal fat wherever no organ is painted later.
  shapes.push(new EllipseColumn(-1e6, 1e6, (z) => cavitySection(p, z), hu.fat + 15));

  // Abdomen below the diaphragm, with kidneys, gallbladder, gas in the stomach and colon.
  const liverBottom = p.domeR.top - rng.uniform(150, 190) * s;
  shapes.push(new AbdomenShape(p, liverBottom));
  for (const side of [1, -1]) {
    const zc = (side > 0 ? p.domeR.top : p.domeL.top) - rng.uniform(120, 150) * s;
    const c: Vec = [side * 0.42 * p.cavA, p.spineY + 0.4 * p.spineR, zc];
    shapes.push(new Ellipsoid(c, [36 * s, 30 * s, 62 * s], side * 0.35, hu.fat));
    shapes.push(new Ellipsoid(c, [28 * s, 22 * s, 52 * s], side * 0.35, rng.uniform(25, 40)));
  }
  if (rng.next() < 0.5) {
    shapes.push(new Ellipsoid([0.35 * p.cavA, 0.45 * p.cavBAnt, p.domeR.top - rng.uniform(70, 100)], [18 * s, 14 * s, 30 * s], 0.3, rng.uniform(0, 15)));
  }
  if (rng.next() < 0.65) {
    const zc = p.domeL.top - rng.uniform(28, 40);
    const r = rng.uniform(14, 30) * s;
    shapes.push(new Ellipsoid([-0.4 * p.cavA, 0.3 * p.cavBAnt, zc], [r * 1.3, r * 0.7, r * 0.7], 0.4, hu.air));
  }
  if (rng.next() < 0.7) {
    const zc = p.domeR.top - rng.uniform(100, 140) * s;
    const r = rng.uniform(10, 20) * s;
    const pts: Vec[] = [
      [0.62 * p.cavA, 0.1 * p.cavBAnt, zc + 10],
      [0.2 * p.cavA, 0.55 * p.cavBAnt, zc - 8],
      [-0.25 * p.cavA, 0.5 * p.cavBAnt, zc - 4],
      [-0.62 * p.cavA, 0.1 * p.cavBAnt, zc + 14],
    ];
    for (const t of polylineTubes(pts, r + 2)) shapes.push(new Tube(t, hu.muscle - 10));
    for (const t of polylineTubes(pts, r)) shapes.push(new Tube(t, rng.next() < 0.5 ? hu.air : hu.abdomen - 10));
  }

  // Spine: vertebral bodies and discs, canal, posterior elements.
  const cortex = hu.cortex;
  const marrow = hu.marrow;
  const post = 0.5 * (cortex + marrow);
  const va = p.spineR * 1.1;
  const vb = p.spineR;
  const canalY = p.spineY - p.spineR - 9 * s;
  const canalR = 7.5 * s;
  shapes.push(new ZCylinder(0, canalY, canalR, canalR, zLow - 50, zHigh + 50, 30));
  const vh = rng.uniform(20, 25) * s;
  const disc = rng.uniform(5, 7) * s;
  for (let z0 = zLow - 40 - rng.uniform(0, vh + disc); z0 < zHigh + 40; z0 += vh + disc) {
    const z1 = z0 + vh;
    const zc = 0.5 * (z0 + z1);
    shapes.push(new ZCylinder(0, p.spineY, va, vb, z0, z1, cortex));
    shapes.push(new ZCylinder(0, p.spineY, va - 1.5, vb - 1.5, z0 + 1.5, z1 - 1.5, marrow));
    shapes.push(new ZCylinder(0, p.spineY, va, vb, z1, z1 + disc, hu.disc));
    const r = 4 * s;
    for (const side of [1, -1]) {
      const ped: Vec = [side * (canalR + 3), p.spineY - 0.7 * p.spineR, zc];
      const lam: Vec = [side * (canalR + 3), canalY - 2, zc];
      shapes.push(new Tube({ a: ped, b: lam, r0: r, r1: r }, post));
      shapes.push(new Tube({ a: lam, b: [0, canalY - canalR - 4, zc], r0: r, r1: r * 0.9 }, post));
      shapes.push(new Tube({ a: lam, b: [side * (canalR + 28 * s), canalY - 6, zc + 3], r0: r * 1.2, r1: r }, post));
    }
    shapes.push(new Tube({ a: [0, canalY - canalR - 4, zc], b: [0, canalY - canalR - 32 * s, zc - 14 * s], r0: r, r1: r * 0.7 }, post));
  }

  // Ribs, costal cartilages, sternum, clavicles.
  const sternumY = cavitySection(p, 0.65 * p.H).bAnt + 7 * s;
  const sternumZ0 = rng.uniform(0.3, 0.38) * p.H;
  const sternumZ1 = rng.uniform(0.9, 0.96) * p.H;
  const ribTop = p.H + rng.uniform(5, 20);
  const ribStep = (ribTop - (-0.1 * p.H)) / 11;
  for (let n = 0; n < 12; n++) {
    const zHead = ribTop - n * ribStep;
    const rr = (n === 0 ? 5.5 : rng.uniform(4, 5.2)) * s;
    const thetaEnd = n < 7 ? rng.uniform(2.45, 2.7) : n < 10 ? rng.uniform(2.1, 2.4) : rng.uniform(1.4, 1.8);
    const drop = (n === 0 ? rng.uniform(15, 25) : rng.uniform(50, 80)) * s;
    for (const side of [1, -1]) {
      const pts: Vec[] = [];
      const head: Vec = [side * (p.spineR + 6), p.spineY - 0.4 * p.spineR, zHead];
      pts.push(head);
      const steps = 9;
      for (let q = 0; q <= steps; q++) {
        const f = q / steps;
        const theta = 0.35 + f * (thetaEnd - 0.35);
        const z = zHead - drop * f ** 0.85;
        const [x, y] = sectionPoint(cavitySection(p, z), theta, side, rr + 1.5);
        pts.push([x, y, z]);
      }
      for (const t of polylineTubes(pts, rr)) boneTube(shapes, t, cortex, marrow);
      if (n < 10) {
        const end = pts[pts.length - 1]!;
        const zS = Math.min(sternumZ1, Math.max(sternumZ0, end[2] - (n >= 7 ? 20 : 5)));
        shapes.push(new Tube({ a: end, b: [side * 14 * s, sternumY, zS], r0: rr * 0.9, r1: rr * 0.9 }, hu.cartilage));
      }
    }
  }
  shapes.push(new ZCylinder(0, sternumY, 16 * s, 7 * s, sternumZ0, sternumZ1, cortex));
  shapes.push(new ZCylinder(0, sternumY, 14.5 * s, 5.5 * s, sternumZ0 + 1.5, sternumZ1 - 1.5, marrow));
  for (const side of [1, -1]) {
    const a: Vec = [side * 16 * s, sternumY + 4, sternumZ1 - 8];
    const b: Vec = [side * 0.95 * p.cavA, -0.15 * p.cavBPost, p.H + rng.uniform(8, 20)];
    boneTube(shapes, { a, b, r0: 7 * s, r1: 6 * s }, cortex, marrow, 2);
  }

  // Lungs.
  shapes.push(new LungsShape(p));

  // Mediastinum: heart in its fat pad, great vessels, oesophagus, central airways, lymph nodes.
  const heart = p.heart;
  shapes.push(new Ellipsoid(heart.centre, [heart.semi[0] + HEART_FAT_MM, heart.semi[1] + HEART_FAT_MM, heart.semi[2] + HEART_FAT_MM], heart.angle, hu.fat + 5));
  shapes.push(new Ellipsoid(heart.centre, heart.semi, heart.angle, hu.blood));
  for (const t of aortaTubes(p)) shapes.push(new Tube(t, hu.blood));
  if (rng.next() < 0.35) {
    for (let q = 0; q < 4; q++) {
      const seg = aortaTubes(p)[rng.int(1, 4)]!;
      const f = rng.next();
      const c: Vec = [seg.a[0] + f * (seg.b[0] - seg.a[0]), seg.a[1] + f * (seg.b[1] - seg.a[1]), seg.a[2] + f * (seg.b[2] - seg.a[2])];
      const ang = rng.uniform(0, 2 * Math.PI);
      const off = p.aortaR - 1;
      shapes.push(new Ellipsoid([c[0] + off * Math.cos(ang), c[1] + off * Math.sin(ang), c[2]], [1.5, 1.5, 2.5], 0, rng.uniform(300, 700)));
    }
  }
  const zHilum = p.zCarina - rng.uniform(18, 28) * s;
  const hilumR = hilumPoint(p, 1, 0.05 * p.cavBAnt, zHilum, lungSdfAt);
  const hilumL = hilumPoint(p, -1, -0.05 * p.cavBPost, zHilum + rng.uniform(4, 12), lungSdfAt);
  const trunk0: Vec = [heart.centre[0] + 0.1 * heart.semi[0], heart.centre[1] + 0.65 * heart.semi[1], heart.centre[2] + 0.55 * heart.semi[2]];
  const bif: Vec = [-0.06 * p.cavA, 0.05 * p.cavBAnt, p.zCarina - 16 * s];
  const paR = p.aortaR * rng.uniform(0.95, 1.1);
  shapes.push(new Tube({ a: trunk0, b: bif, r0: paR, r1: paR }, hu.blood));
  shapes.push(new Tube({ a: bif, b: hilumR, r0: paR * 0.75, r1: paR * 0.6 }, hu.blood));
  shapes.push(new Tube({ a: bif, b: hilumL, r0: paR * 0.72, r1: paR * 0.58 }, hu.blood));
  const atrium: Vec = [heart.centre[0] + 0.1 * heart.semi[0], heart.centre[1] - 0.55 * heart.semi[1], heart.centre[2] + 0.25 * heart.semi[2]];
  const svcTop: Vec = [0.17 * p.cavA, 0.12 * p.cavBAnt, p.H + 200];
  const svcBottom: Vec = [0.16 * p.cavA, 0.14 * p.cavBAnt, heart.centre[2] + 0.7 * heart.semi[2]];
  shapes.push(new Tube({ a: svcTop, b: svcBottom, r0: 9 * s, r1: 10 * s }, hu.blood));
  const archTop = p.aorta[2]!;
  for (const [dx, dy, r] of [[0.1, 0.12, 6], [-0.04, 0.0, 4.5], [-0.12, -0.2, 5]] as const) {
    const a: Vec = [archTop[0] + dx * p.cavA, archTop[1] + dy * p.cavBPost, archTop[2]];
    const b: Vec = [a[0] * 1.3, a[1] - 5, p.H + 200];
    shapes.push(new Tube({ a, b, r0: r * s, r1: r * s }, hu.blood));
  }
  const tr = p.trachea;
  const esoR = 7 * s;
  const eso: Vec[] = [
    [-0.04 * p.cavA, tr.y - tr.r - tr.wall - esoR - 2, p.H + 200],
    [-0.05 * p.cavA, tr.y - tr.r - tr.wall - esoR - 2, p.zCarina],
    [-0.1 * p.cavA, p.spineY + p.spineR + esoR + 4, p.domeL.top - 10],
  ];
  for (const t of polylineTubes(eso, esoR)) shapes.push(new Tube(t, hu.muscle - 5));
  if (rng.next() < 0.5) for (const t of polylineTubes(eso, rng.uniform(1.5, 3))) shapes.push(new Tube(t, hu.air));
  for (const t of p.centralAirways) shapes.push(new Tube(t, hu.cartilage - 30));
  for (const t of p.centralAirways) shapes.push(new Tube({ a: t.a, b: t.b, r0: t.r0 - tr.wall, r1: t.r1 - tr.wall }, hu.air));
  const nodes = rng.int(1, 4);
  const nodeSites: Vec[] = [
    [tr.x, tr.y - 4, p.zCarina - 22],
    [tr.x + tr.r + 9, tr.y + 6, p.zCarina + 18],
    [hilumR[0] - 6, hilumR[1] - 14, hilumR[2] - 10],
    [hilumL[0] + 6, hilumL[1] - 14, hilumL[2] - 10],
    [-0.08 * p.cavA, 0.35 * p.cavBAnt, p.zArch + 6],
  ];
  for (const site of rng.shuffled(nodeSites).slice(0, nodes)) {
    const r = rng.uniform(3, 7);
    shapes.push(new Ellipsoid(site, [r * 1.2, r, r * 1.4], rng.uniform(0, 3), rng.uniform(25, 45)));
  }
  return { shapes, hilum: { right: hilumR, left: hilumL }, atrium, liverBottom };
}
