/** Plane geometry shared by the lung finder and the pipeline's search region. */

/**
 * 2D convex hull (monotone chain) of points given as flat [x0, y0, x1, y1, ...]: the indices of
 * the hull's vertices, counter-clockwise.
 */
export function convexHull(pts: number[]): number[] {
  const n = pts.length / 2;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => pts[2 * a]! - pts[2 * b]! || pts[2 * a + 1]! - pts[2 * b + 1]!);
  const cross = (o: number, a: number, b: number): number =>
    (pts[2 * a]! - pts[2 * o]!) * (pts[2 * b + 1]! - pts[2 * o + 1]!) - (pts[2 * a + 1]! - pts[2 * o + 1]!) * (pts[2 * b]! - pts[2 * o]!);
  const lower: number[] = [];
  for (const i of order) {
    while (lower.length >= 2 && cross(lower[lower.length - 2]!, lower[lower.length - 1]!, i) <= 0) lower.pop();
    lower.push(i);
  }
  const upper: number[] = [];
  for (let k = order.length - 1; k >= 0; k--) {
    const i = order[k]!;
    while (upper.length >= 2 && cross(upper[upper.length - 2]!, upper[upper.length - 1]!, i) <= 0) upper.pop();
    upper.push(i);
  }
  lower.pop();
  upper.pop();
  return [...lower, ...upper];
}
