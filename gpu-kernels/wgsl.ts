/**
 * WGSL sources of the feature kernels, kept as TypeScript string exports so that `tsc` alone builds
 * them into dist/ (no copy step, no file lookup at run time).
 *
 * They mirror src/features/filters.ts (the reference): same kernel radius, clamp-to-edge borders,
 * same lattice (node i at voxel i·step, one node past the end when step > 1), same symmetric tap
 * order (outermost pair first, centre last), same central differences and closed-form eigenvalues.
 * WGSL has no float64, so sums are float32; parity is checked to 1e-4 in tests/gpu.test.ts.
 *
 * Every kernel is 1-D over its outputs with a 2-D dispatch (x + y · rowPitch), because one
 * dispatch dimension holds at most 65535 workgroups.
 */

export const WORKGROUP_SIZE = 64;

/**
 * One separable Gaussian pass along `axis` of a volume `inDims`, evaluated at every `step`-th
 * position along that axis (outDims[axis] nodes), clamp-to-edge. `w[t]` is the tap weight at
 * distance t (t = 0..r) as a float32 pair (hi, lo) with hi + lo = the float64 weight. With
 * `square` set the input is squared on load (the second moment's first pass, so the squared
 * volume is never stored).
 *
 * The reference sums in float64 and rounds once; WGSL has no float64, so the sum is float32 (about
 * 1e-7 relative). Compensated (two-sum / fma-residual) summation was tried and is no help: the
 * shader compilers may reassociate and contract, and on Mesa's llvmpipe they cancel it to 0.
 */
export const PASS_WGSL = /* wgsl */ `
struct Params {
  inDims: vec4<u32>,
  outDims: vec4<u32>,
  axis: u32,
  step: u32,
  r: u32,
  square: u32,
  rowPitch: u32,
};
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

// Squares on load: x² rounded to float32 once, like the reference's stored squared volume.
fn load(i: u32) -> f32 {
  let v = src[i];
  if (p.square != 0u) { return v * v; }
  return v;
}

// acc + (hi + lo) · v: the weight's low half keeps the float64 weight's sum-to-1 (a constant stays constant).
fn acc(s: f32, wt: vec2<f32>, v: f32) -> f32 {
  return s + (wt.x * v + wt.y * v);
}

@compute @workgroup_size(${WORKGROUP_SIZE})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let o = g.x + g.y * p.rowPitch;
  let n = p.outDims.x * p.outDims.y * p.outDims.z;
  if (o >= n) { return; }
  let ox = o % p.outDims.x;
  let t0 = o / p.outDims.x;
  let oy = t0 % p.outDims.y;
  let oz = t0 / p.outDims.y;
  var c: i32;
  var len: i32;
  var stride: u32;
  var base: u32;
  let sxy = p.inDims.x * p.inDims.y;
  if (p.axis == 0u) {
    c = i32(ox * p.step); len = i32(p.inDims.x); stride = 1u; base = p.inDims.x * (oy + p.inDims.y * oz);
  } else if (p.axis == 1u) {
    c = i32(oy * p.step); len = i32(p.inDims.y); stride = p.inDims.x; base = ox + sxy * oz;
  } else {
    c = i32(oz * p.step); len = i32(p.inDims.z); stride = sxy; base = ox + p.inDims.x * oy;
  }
  var s: f32 = 0.0;
  for (var t: i32 = i32(p.r); t >= 1; t = t - 1) {
    let a = load(base + u32(clamp(c - t, 0, len - 1)) * stride);
    let b = load(base + u32(clamp(c + t, 0, len - 1)) * stride);
    s = acc(s, w[t], a + b);
  }
  dst[o] = acc(s, w[0], load(base + u32(clamp(c, 0, len - 1)) * stride));
}
`;

/** Central-difference gradient magnitude at every voxel (step-1 lattice), clamped indices. */
export const GRADMAG_WGSL = /* wgsl */ `
struct Params {
  dims: vec4<u32>,
  h: vec4<f32>,
  rowPitch: u32,
};
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> s: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

fn at(x: i32, y: i32, z: i32) -> f32 {
  let cx = u32(clamp(x, 0, i32(p.dims.x) - 1));
  let cy = u32(clamp(y, 0, i32(p.dims.y) - 1));
  let cz = u32(clamp(z, 0, i32(p.dims.z) - 1));
  return s[cx + p.dims.x * (cy + p.dims.y * cz)];
}

@compute @workgroup_size(${WORKGROUP_SIZE})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let o = g.x + g.y * p.rowPitch;
  let n = p.dims.x * p.dims.y * p.dims.z;
  if (o >= n) { return; }
  let x = i32(o % p.dims.x);
  let t0 = o / p.dims.x;
  let y = i32(t0 % p.dims.y);
  let z = i32(t0 / p.dims.y);
  let gx = (at(x + 1, y, z) - at(x - 1, y, z)) / (2.0 * p.h.x);
  let gy = (at(x, y + 1, z) - at(x, y - 1, z)) / (2.0 * p.h.y);
  let gz = (at(x, y, z + 1) - at(x, y, z - 1)) / (2.0 * p.h.z);
  dst[o] = sqrt(gx * gx + gy * gy + gz * gz);
}
`;

/**
 * Channels at requested points: the node quantities of the smoothed lattice volume(s) evaluated
 * at the ≤ 8 lattice corners around each point (corner order z, y, x; zero-weight corners
 * skipped) and interpolated trilinearly, like slab.ts's NodeCache. Node quantities are computed
 * per corner rather than stored per node: that keeps the largest buffer at one volume, and on a
 * GPU the repeated arithmetic costs less than the memory.
 *
 * Channels (the first `channels` of them are written, point-major):
 *   0 mean = s1, 1 std = sqrt(max(0, s2 − s1²)), 2 gradient magnitude,
 *   3 σ²ΔG*I, 4 vesselness, 5 blobness, 6 plateness.
 * `flags`: 1 std, 2 gradient, 4 Hessian measures (others are written as 0).
 */
export const POINTS_WGSL = /* wgsl */ `
struct Params {
  region: vec4<u32>,
  ld: vec4<u32>,
  step: vec4<u32>,
  h: vec4<f32>,
  sigma2: f32,
  flags: u32,
  channels: u32,
  count: u32,
  rowPitch: u32,
  contrast: f32,
  alpha: f32,
  beta: f32,
};
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> s1: array<f32>;
@group(0) @binding(2) var<storage, read> s2: array<f32>;
@group(0) @binding(3) var<storage, read> pts: array<u32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;

const PI: f32 = 3.14159265358979;

fn at(x: i32, y: i32, z: i32) -> f32 {
  let cx = u32(clamp(x, 0, i32(p.ld.x) - 1));
  let cy = u32(clamp(y, 0, i32(p.ld.y) - 1));
  let cz = u32(clamp(z, 0, i32(p.ld.z) - 1));
  return s1[cx + p.ld.x * (cy + p.ld.y * cz)];
}

// Eigenvalues of [[a, d, e], [d, b, f], [e, f, c]] (trigonometric form), sorted by |λ| ascending.
fn eig3(a: f32, b: f32, c: f32, d: f32, e: f32, f: f32) -> vec3<f32> {
  let p1 = d * d + e * e + f * f;
  let q = (a + b + c) / 3.0;
  let p2 = (a - q) * (a - q) + (b - q) * (b - q) + (c - q) * (c - q) + 2.0 * p1;
  var l0: f32;
  var l1: f32;
  var l2: f32;
  if (p1 == 0.0 || p2 <= 1e-30 * (q * q + 1.0)) {
    l0 = a; l1 = b; l2 = c;
  } else {
    let pp = sqrt(p2 / 6.0);
    let ba = (a - q) / pp;
    let bb = (b - q) / pp;
    let bc = (c - q) / pp;
    let bd = d / pp;
    let be = e / pp;
    let bf = f / pp;
    let r = clamp((ba * (bb * bc - bf * bf) - bd * (bd * bc - bf * be) + be * (bd * bf - bb * be)) / 2.0, -1.0, 1.0);
    let phi = acos(r) / 3.0;
    l0 = q + 2.0 * pp * cos(phi);
    l2 = q + 2.0 * pp * cos(phi + (2.0 * PI) / 3.0);
    l1 = 3.0 * q - l0 - l2;
  }
  var t: f32;
  if (abs(l0) > abs(l1)) { t = l0; l0 = l1; l1 = t; }
  if (abs(l1) > abs(l2)) { t = l1; l1 = l2; l2 = t; }
  if (abs(l0) > abs(l1)) { t = l0; l0 = l1; l1 = t; }
  return vec3<f32>(l0, l1, l2);
}

fn node(x: i32, y: i32, z: i32, out: ptr<function, array<f32, 7>>) {
  let c = at(x, y, z);
  (*out)[0] = c;
  (*out)[1] = 0.0;
  (*out)[2] = 0.0;
  (*out)[3] = 0.0;
  (*out)[4] = 0.0;
  (*out)[5] = 0.0;
  (*out)[6] = 0.0;
  if ((p.flags & 1u) != 0u) {
    let cx = u32(clamp(x, 0, i32(p.ld.x) - 1));
    let cy = u32(clamp(y, 0, i32(p.ld.y) - 1));
    let cz = u32(clamp(z, 0, i32(p.ld.z) - 1));
    let m2 = s2[cx + p.ld.x * (cy + p.ld.y * cz)];
    // fma: m2 − c² with one rounding, as close to the reference's float64 as float32 gets.
    let v = fma(-c, c, m2);
    if (v > 0.0) { (*out)[1] = sqrt(v); }
  }
  let h = p.h;
  if ((p.flags & 2u) != 0u) {
    let gx = (at(x + 1, y, z) - at(x - 1, y, z)) / (2.0 * h.x);
    let gy = (at(x, y + 1, z) - at(x, y - 1, z)) / (2.0 * h.y);
    let gz = (at(x, y, z + 1) - at(x, y, z - 1)) / (2.0 * h.z);
    (*out)[2] = sqrt(gx * gx + gy * gy + gz * gz);
  }
  if ((p.flags & 4u) != 0u) {
    let n = p.sigma2;
    // Differences of neighbouring smoothed values are exact in float32 (Sterbenz), so each
    // entry is rounded once, as close to the reference's float64 as float32 allows.
    let hxx = n * (((at(x + 1, y, z) - c) + (at(x - 1, y, z) - c)) / (h.x * h.x));
    let hyy = n * (((at(x, y + 1, z) - c) + (at(x, y - 1, z) - c)) / (h.y * h.y));
    let hzz = n * (((at(x, y, z + 1) - c) + (at(x, y, z - 1) - c)) / (h.z * h.z));
    let hxy = n * (((at(x + 1, y + 1, z) - at(x + 1, y - 1, z)) - (at(x - 1, y + 1, z) - at(x - 1, y - 1, z))) / (4.0 * h.x * h.y));
    let hxz = n * (((at(x + 1, y, z + 1) - at(x + 1, y, z - 1)) - (at(x - 1, y, z + 1) - at(x - 1, y, z - 1))) / (4.0 * h.x * h.z));
    let hyz = n * (((at(x, y + 1, z + 1) - at(x, y + 1, z - 1)) - (at(x, y - 1, z + 1) - at(x, y - 1, z - 1))) / (4.0 * h.y * h.z));
    (*out)[3] = hxx + hyy + hzz;
    let l = eig3(hxx, hyy, hzz, hxy, hxz, hyz);
    let s2n = l.x * l.x + l.y * l.y + l.z * l.z;
    let cc = 2.0 * p.contrast * p.contrast;
    if (l.y < 0.0 && l.z < 0.0) {
      let a2 = abs(l.y);
      let a3 = abs(l.z);
      let ra = a2 / a3;
      let rb = abs(l.x) / sqrt(a2 * a3);
      (*out)[4] = (1.0 - exp(-(ra * ra) / (2.0 * p.alpha * p.alpha))) * exp(-(rb * rb) / (2.0 * p.beta * p.beta)) * (1.0 - exp(-s2n / cc));
      if (l.x < 0.0) { (*out)[5] = (l.x * l.x) / a3; }
    }
    if (l.z < 0.0) {
      let rs = abs(l.y) / abs(l.z);
      (*out)[6] = exp(-(rs * rs) / (2.0 * p.alpha * p.alpha)) * (1.0 - exp(-s2n / cc));
    }
  }
}

@compute @workgroup_size(${WORKGROUP_SIZE})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let k = g.x + g.y * p.rowPitch;
  if (k >= p.count) { return; }
  let v = pts[k];
  let x = v % p.region.x;
  let t0 = v / p.region.x;
  let y = t0 % p.region.y;
  let z = t0 / p.region.y;
  let ix = x / p.step.x;
  let iy = y / p.step.y;
  let iz = z / p.step.z;
  let fx = f32(x - ix * p.step.x) / f32(p.step.x);
  let fy = f32(y - iy * p.step.y) / f32(p.step.y);
  let fz = f32(z - iz * p.step.z) / f32(p.step.z);
  var acc = array<f32, 7>(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
  var vals = array<f32, 7>(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
  for (var cz: u32 = 0u; cz < 2u; cz = cz + 1u) {
    let wz = select(fz, 1.0 - fz, cz == 0u);
    if (wz == 0.0) { continue; }
    for (var cy: u32 = 0u; cy < 2u; cy = cy + 1u) {
      let wy = select(fy, 1.0 - fy, cy == 0u);
      if (wy == 0.0) { continue; }
      for (var cx: u32 = 0u; cx < 2u; cx = cx + 1u) {
        let wx = select(fx, 1.0 - fx, cx == 0u);
        if (wx == 0.0) { continue; }
        node(i32(ix + cx), i32(iy + cy), i32(iz + cz), &vals);
        let wt = wx * wy * wz;
        for (var c: u32 = 0u; c < 7u; c = c + 1u) { acc[c] = acc[c] + wt * vals[c]; }
      }
    }
  }
  for (var c: u32 = 0u; c < p.channels; c = c + 1u) { dst[k * p.channels + c] = acc[c]; }
}
`;
