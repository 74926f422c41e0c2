/**
 * Branching, tapering tube trees grown inside the lungs: pulmonary arteries, veins and airways.
 * They are what a tube detector (Hessian vesselness) must learn to reject: long tubes, forks,
 * crossings of independent trees, tubes passing close to lesions.
 */
import type { Rng } from '../core/random.js';
import type { TubeSpec, Vec } from './shapes.js';

export interface TreeOptions {
  /** Stop branching once the radius falls below this, mm. */
  rMin: number;
  /** Branch length as a multiple of its radius, drawn in [lo, hi]; plus a constant 2 mm. */
  lengthPerRadius: [number, number];
  /** Hard cap on tube segments per tree. */
  maxSegments: number;
  /** How far inside the lungs a branch end must stay, beyond its radius, mm. */
  clearance: number;
  /** The first this-many mm of the tree (the hilar stem) may lie outside the lungs. */
  freeLength: number;
  /** Weight of the pull away from the root, which spreads the tree through the lung. */
  spread: number;
}

function norm(v: Vec): Vec {
  const n = Math.hypot(v[0], v[1], v[2]) || 1;
  return [v[0] / n, v[1] / n, v[2] / n];
}

function add(a: Vec, b: Vec, s = 1): Vec {
  return [a[0] + s * b[0], a[1] + s * b[1], a[2] + s * b[2]];
}

function cross(a: Vec, b: Vec): Vec {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

/** Two unit vectors perpendicular to d and to each other. */
function basis(d: Vec): [Vec, Vec] {
  const helper: Vec = Math.abs(d[2]) < 0.9 ? [0, 0, 1] : [1, 0, 0];
  const u = norm(cross(d, helper));
  return [u, cross(d, u)];
}

/** Outward-pointing gradient of a signed distance, by central differences (1 mm). */
function gradient(sdf: (x: number, y: number, z: number) => number, p: Vec): Vec {
  const e = 1;
  return norm([
    sdf(p[0] + e, p[1], p[2]) - sdf(p[0] - e, p[1], p[2]),
    sdf(p[0], p[1] + e, p[2]) - sdf(p[0], p[1] - e, p[2]),
    sdf(p[0], p[1], p[2] + e) - sdf(p[0], p[1], p[2] - e),
  ]);
}

interface Bud {
  at: Vec;
  dir: Vec;
  r: number;
  path: number;
}

/**
 * Grows one tree from `root` along `dir` with root radius r0 (mm), breadth first, keeping branch
 * ends inside `lungSdf` (negative inside). Radii follow Murray's law at forks (r^3 = r1^3 + r2^3)
 * and taper a little along each branch; branches bend slightly (two segments per branch).
 */
export function growTree(
  rng: Rng,
  lungSdf: (x: number, y: number, z: number) => number,
  root: Vec,
  dir: Vec,
  r0: number,
  opt: TreeOptions,
): TubeSpec[] {
  const out: TubeSpec[] = [];
  const queue: Bud[] = [{ at: root, dir: norm(dir), r: r0, path: 0 }];
  for (let qi = 0; qi < queue.length && out.length < opt.maxSegments; qi++) {
    const bud = queue[qi]!;
    let d = bud.dir;
    let len = bud.r * rng.uniform(opt.lengthPerRadius[0], opt.lengthPerRadius[1]) + 2;
    let end: Vec | null = null;
    for (let attempt = 0; attempt < 3; attempt++) {
      const cand = add(bud.at, d, len);
      const mid = add(bud.at, d, 0.5 * len);
      const free = bud.path + len <= opt.freeLength;
      const need = -(bud.r * 0.8 + opt.clearance);
      if (free || (lungSdf(cand[0], cand[1], cand[2]) < need && lungSdf(mid[0], mid[1], mid[2]) < need * 0.5)) {
        end = cand;
        break;
      }
      // Turn away from the nearest lung boundary and try shorter.
      const g = gradient(lungSdf, cand);
      d = norm(add(d, g, -0.9));
      len *= 0.65;
    }
    if (!end) continue;
    const rEnd = bud.r * rng.uniform(0.95, 0.99);
    const rMid = 0.5 * (bud.r + rEnd);
    const [u, v] = basis(d);
    const wob = rng.uniform(-0.12, 0.12) * len;
    const wob2 = rng.uniform(-0.12, 0.12) * len;
    const mid = add(add(add(bud.at, d, 0.5 * len), u, wob), v, wob2);
    out.push({ a: bud.at, b: mid, r0: bud.r, r1: rMid }, { a: mid, b: end, r0: rMid, r1: rEnd });
    if (rEnd < opt.rMin) continue;
    const alpha = rng.uniform(0.78, 0.95);
    const rA = rEnd * alpha;
    const rB = rEnd * Math.cbrt(Math.max(0, 1 - alpha ** 3));
    const phi = rng.uniform(0, 2 * Math.PI);
    const side = add([0, 0, 0], u, Math.cos(phi));
    const sideV = norm(add(side, v, Math.sin(phi)));
    const thA = (rng.uniform(5, 22) * Math.PI) / 180;
    const thB = (rng.uniform(40, 80) * Math.PI) / 180;
    const outward = norm([end[0] - root[0], end[1] - root[1], end[2] - root[2]]);
    const dA = norm(add(add(add([0, 0, 0], d, Math.cos(thA)), sideV, Math.sin(thA)), outward, opt.spread));
    const dB = norm(add(add(add([0, 0, 0], d, Math.cos(thB)), sideV, -Math.sin(thB)), outward, opt.spread));
    const path = bud.path + len;
    queue.push({ at: end, dir: dA, r: rA, path });
    if (rB >= opt.rMin) queue.push({ at: end, dir: dB, r: rB, path });
  }
  return out;
}
