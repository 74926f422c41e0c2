/**
 * The synthetic patient: a few dozen numbers drawn per case, and the analytic thoracic anatomy
 * they define, in the anatomy frame (mm; x to the patient's right, y anterior, z superior; origin
 * on the midline at the centre of the thoracic cavity, z = 0 at the lowest point of the lungs, the
 * posterior costophrenic recess; the lung apices at z = H).
 *
 * The lungs are "the thoracic cavity minus the mediastinum, heart, spine, aorta and central
 * airways, above the diaphragm domes and below the apical caps". Every function here is pure, so
 * the renderer, the vessel-tree grower and the tumour placer all see the very same lungs.
 */
import type { Rng } from '../core/random.js';
import { smoothstep, tubeSdf, type EllipseSection, type TubeSpec, type Vec } from './shapes.js';

export type Sex = 'M' | 'F';
export type Lobe = 'RUL' | 'RML' | 'RLL' | 'LUL' | 'LLL';

/** One diaphragm dome: z(x, y) = top - k * ((x - x0)^2 + 1.3 (y - y0)^2), mm. */
export interface Dome {
  top: number;
  x0: number;
  y0: number;
  k: number;
}

/** Rotated ellipsoid (about z), as the heart. */
export interface EllipsoidSpec {
  centre: Vec;
  semi: Vec;
  angle: number;
}

/** Tissue HU levels of one patient (before noise). */
export interface TissueHu {
  air: number;
  lung: number;
  /** HU added per mm towards the back (dependent lung is denser). */
  lungGradientPerMm: number;
  fat: number;
  skin: number;
  muscle: number;
  blood: number;
  liver: number;
  abdomen: number;
  marrow: number;
  cortex: number;
  disc: number;
  cartilage: number;
}

export interface Patient {
  sex: Sex;
  /** Overall body size factor (about 0.88..1.12). */
  scale: number;
  /** Height of the lungs (z of the apices), mm. */
  H: number;
  /** Thoracic cavity semi-axes at its widest (LR, anterior AP, posterior AP), mm. */
  cavA: number;
  cavBAnt: number;
  cavBPost: number;
  /** Chest-wall muscle and subcutaneous fat thickness, mm. */
  muscle: number;
  fat: number;
  /** Extra thickness of the back (paraspinal muscles), mm. */
  back: number;
  /** Mediastinum half-width at the top and at heart level, and its leftward shift at heart level, mm. */
  medTop: number;
  medLow: number;
  medShift: number;
  domeR: Dome;
  domeL: Dome;
  /** Apical caps: z = H - apexK * ((|x| - apexX)^2 + APEX_AP * (y - apexY)^2); flatter front to back. */
  apexK: number;
  apexX: number;
  apexY: number;
  heart: EllipsoidSpec;
  /** Vertebral body: centre y and radius (mm); the column is vertical at x = 0. */
  spineY: number;
  spineR: number;
  /** z of the carina and of the top of the aortic arch, mm. */
  zCarina: number;
  zArch: number;
  trachea: { x: number; y: number; r: number; wall: number };
  /** Central airways (trachea and main bronchi) as tubes: excluded from the lungs. */
  centralAirways: TubeSpec[];
  /** Aorta centre line (ascending, arch, descending) and radius. */
  aorta: Vec[];
  aortaR: number;
  /** The aorta as tubes along its centre line (derived from `aorta`, kept to spare the hot paths). */
  aortaTubes: TubeSpec[];
  /** Ends of the main bronchi, where the intrapulmonary airway trees start. */
  bronchusR: { end: Vec; dir: Vec; r: number };
  bronchusL: { end: Vec; dir: Vec; r: number };
  /** Oblique fissure z at y = 0 and its slope dz/dy, per side; horizontal fissure z (right). */
  fissure: { rightZ0: number; leftZ0: number; slope: number; bend: number; horizontalZ: number };
  hu: TissueHu;
  /** Separable low-frequency lung texture: sum of amp * sin(kx x + px) sin(ky y + py) sin(kz z + pz). */
  lungTexture: { k: Vec; phase: Vec; amp: number }[];
}

/** Draws one patient. */
export function samplePatient(rng: Rng): Patient {
  const sex: Sex = rng.next() < 0.62 ? 'M' : 'F';
  const scale = rng.uniform(0.88, 1.12) * (sex === 'F' ? 0.95 : 1);
  const H = rng.uniform(215, 262) * scale;
  const cavA = rng.uniform(118, 136) * scale;
  const cavBAnt = rng.uniform(66, 84) * scale;
  const cavBPost = rng.uniform(80, 94) * scale;
  const muscle = rng.uniform(9, 18) * scale;
  const fat = rng.uniform(4, sex === 'F' ? 32 : 26);
  const back = rng.uniform(28, 40) * scale;
  const spineR = rng.uniform(15, 19) * scale;
  const spineY = -cavBPost + 0.55 * spineR;
  const domeRTop = rng.uniform(0.24, 0.32) * H;
  const domeLTop = domeRTop - rng.uniform(8, 22);
  const domeY = 0.12 * cavBAnt;
  const domeK = (top: number): number => top / (1.3 * (cavBPost + domeY) ** 2 + (0.1 * cavA) ** 2);
  const domeR: Dome = { top: domeRTop, x0: 0.42 * cavA, y0: domeY, k: domeK(domeRTop) };
  const domeL: Dome = { top: domeLTop, x0: -0.42 * cavA, y0: domeY, k: domeK(domeLTop) };
  const heartSemi: Vec = [rng.uniform(48, 60) * scale, rng.uniform(40, 50) * scale, rng.uniform(44, 56) * scale];
  const heart: EllipsoidSpec = {
    centre: [-0.14 * cavA, 0.22 * cavBAnt, domeLTop + 0.62 * heartSemi[2]],
    semi: heartSemi,
    angle: (-rng.uniform(20, 38) * Math.PI) / 180,
  };
  const zCarina = rng.uniform(0.6, 0.68) * H;
  const zArch = zCarina + rng.uniform(18, 32) * scale;
  const tr = { x: rng.uniform(0, 5), y: spineY + spineR + rng.uniform(16, 22) * scale, r: rng.uniform(7.5, 10) * scale, wall: rng.uniform(1.5, 2.5) };
  const carina: Vec = [tr.x, tr.y, zCarina];
  // The right main bronchus is short and steep, the left one long and flatter (it passes under the arch).
  const rbEnd: Vec = [tr.x + 0.18 * cavA, tr.y + 4, zCarina - rng.uniform(18, 26)];
  const lbEnd: Vec = [tr.x - 0.3 * cavA, tr.y - 2, zCarina - rng.uniform(22, 32)];
  const rbR = tr.r * rng.uniform(0.72, 0.82);
  const lbR = tr.r * rng.uniform(0.62, 0.72);
  const top = H + 400;
  const centralAirways: TubeSpec[] = [
    { a: [tr.x, tr.y, top], b: carina, r0: tr.r + tr.wall, r1: tr.r + tr.wall },
    { a: carina, b: rbEnd, r0: rbR + tr.wall, r1: rbR + tr.wall },
    { a: carina, b: lbEnd, r0: lbR + tr.wall, r1: lbR + tr.wall },
  ];
  const aortaR = rng.uniform(12, 15) * scale;
  const descX = -0.2 * cavA;
  const descY = spineY + 0.9 * spineR;
  const aorta: Vec[] = [
    [heart.centre[0] + 0.35 * heartSemi[0], heart.centre[1] + 0.1 * heartSemi[1], heart.centre[2] + 0.55 * heartSemi[2]],
    [0.1 * cavA, 0.3 * cavBAnt, zArch - 22],
    [0.02 * cavA, 0.12 * cavBAnt, zArch - aortaR],
    [-0.12 * cavA, -0.35 * cavBPost, zArch - aortaR - 4],
    [descX, descY, zArch - 30],
    [descX * 0.8, descY + 2, 0],
    [-0.04 * cavA, spineY + spineR + aortaR, -500],
  ];
  const unit = (v: Vec): Vec => {
    const n = Math.hypot(v[0], v[1], v[2]);
    return [v[0] / n, v[1] / n, v[2] / n];
  };
  const obliqueSlope = -(0.52 * H) / (cavBAnt + cavBPost);
  return {
    sex,
    scale,
    H,
    cavA,
    cavBAnt,
    cavBPost,
    muscle,
    fat,
    back,
    medTop: rng.uniform(0.17, 0.22) * cavA,
    medLow: rng.uniform(0.27, 0.33) * cavA,
    medShift: rng.uniform(0.06, 0.12) * cavA,
    domeR,
    domeL,
    apexK: rng.uniform(0.012, 0.018) / scale,
    apexX: 0.5 * cavA,
    apexY: -0.15 * cavBPost,
    heart,
    spineY,
    spineR,
    zCarina,
    zArch,
    trachea: tr,
    centralAirways,
    aorta,
    aortaR,
    aortaTubes: aorta.slice(1).map((b, i) => ({ a: aorta[i]!, b, r0: aortaR, r1: aortaR })),
    bronchusR: { end: rbEnd, dir: unit([rbEnd[0] - carina[0], rbEnd[1] - carina[1], rbEnd[2] - carina[2]]), r: rbR },
    bronchusL: { end: lbEnd, dir: unit([lbEnd[0] - carina[0], lbEnd[1] - carina[1], lbEnd[2] - carina[2]]), r: lbR },
    fissure: {
      // Oblique fissures run from high at the back to low at the front.
      rightZ0: rng.uniform(0.36, 0.42) * H,
      leftZ0: rng.uniform(0.38, 0.45) * H,
      slope: obliqueSlope,
      bend: rng.uniform(0.001, 0.003) / scale,
      horizontalZ: rng.uniform(0.46, 0.54) * H,
    },
    hu: {
      air: -1000,
      lung: rng.uniform(-890, -850),
      lungGradientPerMm: rng.uniform(0.25, 0.5),
      fat: rng.uniform(-110, -85),
      skin: rng.uniform(10, 40),
      muscle: rng.uniform(35, 55),
      blood: rng.uniform(32, 50),
      liver: rng.uniform(50, 68),
      abdomen: rng.uniform(10, 35),
      marrow: rng.uniform(120, 260),
      cortex: rng.uniform(650, 900),
      disc: rng.uniform(60, 100),
      cartilage: rng.uniform(80, 140),
    },
    lungTexture: [0, 1, 2].map(() => ({
      k: [rng.uniform(0.05, 0.18), rng.uniform(0.05, 0.18), rng.uniform(0.03, 0.12)] as Vec,
      phase: [rng.uniform(0, 6.3), rng.uniform(0, 6.3), rng.uniform(0, 6.3)] as Vec,
      amp: rng.uniform(8, 18),
    })),
  };
}

/** Thoracic cavity cross-section at height z: full width low in the chest, narrowing to the thoracic inlet. */
export function cavitySection(p: Patient, z: number): EllipseSection {
  const t = z / p.H;
  const fa = 1 - 0.45 * smoothstep(0.5, 1.1, t) - 0.06 * smoothstep(0, -1.2, t);
  const fb = 1 - 0.3 * smoothstep(0.45, 1.1, t);
  return { cx: 0, cy: 0, a: p.cavA * fa, bAnt: p.cavBAnt * fb, bPost: p.cavBPost * fb };
}

/** Chest-wall muscle layer (outer boundary) at height z; the back is thicker (paraspinal muscles). */
export function muscleSection(p: Patient, z: number): EllipseSection {
  const c = cavitySection(p, z);
  const t = z / p.H;
  // Shoulder girdle muscles keep the body wide while the cavity narrows towards the apex.
  const shoulder = smoothstep(0.7, 1.05, t) * (1 - smoothstep(1.2, 1.45, t));
  const a = Math.max(c.a + p.muscle + 8, (p.cavA + p.muscle + 8) * (0.95 + 0.12 * shoulder));
  const neck = smoothstep(1.15, 1.45, t);
  return {
    cx: 0,
    cy: 0,
    a: a * (1 - 0.5 * neck),
    bAnt: c.bAnt + p.muscle * 0.8 + 5,
    bPost: c.bPost + p.muscle + p.back,
  };
}

/** Outer body surface at height z (muscle plus subcutaneous fat). */
export function bodySection(p: Patient, z: number): EllipseSection {
  const m = muscleSection(p, z);
  return { cx: 0, cy: 0, a: m.a + p.fat, bAnt: m.bAnt + p.fat, bPost: m.bPost + p.fat * 0.7 };
}

/** Pseudo signed distance (mm, negative inside) of (x, y) from an elliptic section. */
export function sectionSdf(s: EllipseSection, x: number, y: number): number {
  const b = y >= s.cy ? s.bAnt : s.bPost;
  const tx = (x - s.cx) / s.a;
  const ty = (y - s.cy) / b;
  // sqrt, not Math.hypot: this runs for millions of voxels and hypot is several times slower.
  const rho = Math.sqrt(tx * tx + ty * ty);
  if (rho < 1e-9) return -Math.min(s.a, b);
  const gx = tx / s.a;
  const gy = ty / b;
  return (rho * (rho - 1)) / Math.sqrt(gx * gx + gy * gy);
}

/** Mediastinum at height z: an ellipse spanning sternum to spine, wider and shifted left at heart level. */
export function mediastinumSection(p: Patient, z: number): { cx: number; cy: number; a: number; b: number } {
  const t = z / p.H;
  const low = 1 - smoothstep(0.45, 0.7, t);
  const c = cavitySection(p, z);
  return {
    cx: -p.medShift * low,
    cy: 0.2 * c.bAnt,
    a: p.medTop + (p.medLow - p.medTop) * low,
    b: 1.32 * c.bPost,
  };
}

/** z of the diaphragm under (x, y) (the higher of the two domes there), mm. */
export function diaphragmZ(p: Patient, x: number, y: number): number {
  const d = x >= 0 ? p.domeR : p.domeL;
  const ex = x - d.x0;
  const ey = y - d.y0;
  return d.top - d.k * (ex * ex + 1.3 * ey * ey);
}

/** z of the apical cap of the lung over (x, y), mm. */
export function apexZ(p: Patient, x: number, y: number): number {
  const ex = Math.abs(x) - p.apexX;
  const ey = y - p.apexY;
  return p.H - p.apexK * (ex * ex + APEX_AP * ey * ey);
}

/** How much more slowly the apical cap falls away front to back than side to side. */
export const APEX_AP = 0.35;

export function ellipsoidSdf(e: EllipsoidSpec, x: number, y: number, z: number): number {
  const c = Math.cos(e.angle);
  const s = Math.sin(e.angle);
  const px = x - e.centre[0];
  const py = y - e.centre[1];
  const u = c * px + s * py;
  const v = -s * px + c * py;
  const w = z - e.centre[2];
  const [A, B, C] = e.semi;
  const tu = u / A;
  const tv = v / B;
  const tw = w / C;
  const rho = Math.sqrt(tu * tu + tv * tv + tw * tw);
  if (rho < 1e-9) return -Math.min(A, B, C);
  const gu = tu / A;
  const gv = tv / B;
  const gw = tw / C;
  return (rho * (rho - 1)) / Math.sqrt(gu * gu + gv * gv + gw * gw);
}

/** Pericardial fat pad margin around the heart, mm (also kept free of lung). */
export const HEART_FAT_MM = 5;

/** The spine's keep-out zone for the lungs: an elliptic column around the vertebral body. */
export function spineSdf(p: Patient, x: number, y: number): number {
  const a = p.spineR + 6;
  const b = p.spineR + 14;
  const cy = p.spineY - 8;
  const tx = x / a;
  const ty = (y - cy) / b;
  const rho = Math.sqrt(tx * tx + ty * ty);
  if (rho < 1e-9) return -a;
  const gx = tx / a;
  const gy = ty / b;
  return (rho * (rho - 1)) / Math.sqrt(gx * gx + gy * gy);
}

/** The aorta's centre line as tubes (a polyline of capsules). */
export function aortaTubes(p: Patient): readonly TubeSpec[] {
  return p.aortaTubes;
}

/** How far inside the lung a point is, per boundary (mm; negative = inside that boundary). */
export interface LungParts {
  /** Chest wall (costal pleura). */
  wall: number;
  /** Mediastinum, heart, spine, aorta, central airways. */
  med: number;
  diaphragm: number;
  apex: number;
}

/** Keep-out margin around the aorta and central airways, mm (mediastinal fat). */
const TUBE_MARGIN_MM = 3;

export function lungParts(p: Patient, x: number, y: number, z: number): LungParts {
  const wall = sectionSdf(cavitySection(p, z), x, y);
  const m = mediastinumSection(p, z);
  let med = -sectionSdf({ cx: m.cx, cy: m.cy, a: m.a, bAnt: m.b, bPost: m.b }, x, y);
  med = Math.max(med, -(ellipsoidSdf(p.heart, x, y, z) - HEART_FAT_MM));
  med = Math.max(med, -spineSdf(p, x, y));
  for (const t of aortaTubes(p)) med = Math.max(med, -(tubeSdf(t, x, y, z) - TUBE_MARGIN_MM));
  for (const t of p.centralAirways) med = Math.max(med, -(tubeSdf(t, x, y, z) - TUBE_MARGIN_MM));
  const dr = x >= 0 ? p.domeR : p.domeL;
  const gx = 2 * dr.k * (x - dr.x0);
  const gy = 2.6 * dr.k * (y - dr.y0);
  const diaphragm = (diaphragmZ(p, x, y) - z) / Math.sqrt(1 + gx * gx + gy * gy);
  const ax = 2 * p.apexK * (Math.abs(x) - p.apexX);
  const ay = 2 * APEX_AP * p.apexK * (y - p.apexY);
  const apex = (z - apexZ(p, x, y)) / Math.sqrt(1 + ax * ax + ay * ay);
  return { wall, med, diaphragm, apex };
}

/** Pseudo signed distance (mm) from the lungs (both), negative inside. */
export function lungSdf(p: Patient, x: number, y: number, z: number): number {
  const q = lungParts(p, x, y, z);
  return Math.max(q.wall, q.med, q.diaphragm, q.apex);
}

/**
 * z of the oblique fissure at (x, y) on one side: high at the back, low at the front, and curved
 * (it faces forwards and outwards, so it is lower laterally than medially at the same y).
 */
export function obliqueFissureZ(p: Patient, right: boolean, x: number, y: number): number {
  const lx = Math.abs(x) - 0.5 * p.cavA;
  return (right ? p.fissure.rightZ0 : p.fissure.leftZ0) + p.fissure.slope * (y + 0.35 * lx) - p.fissure.bend * lx * lx;
}

/** Which lung a point belongs to (by the mediastinum's centre line at that height). */
export function isRightLung(p: Patient, x: number, z: number): boolean {
  return x >= mediastinumSection(p, z).cx;
}

/** The lobe a point of the lungs lies in. */
export function lobeOf(p: Patient, x: number, y: number, z: number): Lobe {
  const right = isRightLung(p, x, z);
  if (z < obliqueFissureZ(p, right, x, y)) return right ? 'RLL' : 'LLL';
  if (!right) return 'LUL';
  return z < p.fissure.horizontalZ ? 'RML' : 'RUL';
}
