/**
 * Parity of the WebGPU kernels (gpu-kernels/) with the TypeScript reference (src/features/filters.ts
 * and the feature extractor's CPU path). Skips, saying why, when no WebGPU adapter is available;
 * on CI the adapter is Mesa's llvmpipe (software Vulkan).
 *
 * Error measure: per output channel, max |gpu − cpu| / max |cpu| over the channel (its range).
 * Pointwise relative error is not meaningful here: the reference itself stores float32 and, e.g.,
 * the local std is a difference of two rounded moments, so near-zero values carry the reference's
 * own rounding noise.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import type { Vec3 } from '../src/core/volume.js';
import { Rng } from '../src/core/random.js';
import { gaussianSmooth, gradientMagnitude, gradientTexture, hessianMeasures, latticeStep, localMeanStd } from '../src/features/filters.js';
import { extractFeatures } from '../src/features/threads.js';
import { buildFeatureContext } from '../src/features/context.js';
import { findLungs } from '../src/features/lungs.js';
import { FEATURES } from '../src/features/catalog.js';
import { GpuFeatures, openFeatureDevice, parseFeatureDevice } from '../src/features/gpu.js';
import { GpuRuntime, NO_GPU_DEVICE, gpuDeviceNodes, libraryDirs, missingVulkan, vulkanDriverManifests } from '../gpu-kernels/runtime.js';
import { gaussianPointsOnGpu, planZSlabs, smoothOnGpu, texturePointsOnGpu } from '../gpu-kernels/ops.js';
import { readNifti } from '../src/io/nifti.js';
import { realDataDir, tempDir } from './helpers.js';

const TOL = 1e-4;

const opened = await GpuRuntime.open();
const rt = opened.runtime;
const skip = rt ? false : opened.reason;
if (!rt) console.log(`# gpu tests skipped: ${opened.reason}`);
else console.log(`# gpu tests on: ${rt.adapter.description}${rt.adapter.software ? ' (software)' : ''}`);
after(() => rt?.destroy());

/**
 * Vesselness and plateness jump where two eigenvalues of opposite sign swap places in the |λ|
 * order (|λ1| = |λ2| for vesselness, |λ2| = |λ3| for plateness): at such ties any rounding
 * difference picks the other branch. Up to this fraction of their values may differ beyond
 * tolerance; the count is reported.
 */
const TIE_FRACTION = 1e-3;
const tieMeasure = (name: string): boolean => name.includes('vesselness') || name.includes('plateness');

/** Max |a − b| / max |b| (over values within tolerance), values beyond tolerance, NaNs in a. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>, minScale: number): { rel: number; bad: number; nan: number } {
  assert.equal(a.length, b.length);
  let scale = minScale;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  const s = scale > 0 ? scale : 1;
  let rel = 0;
  let bad = 0;
  let nan = 0;
  for (let i = 0; i < b.length; i++) {
    const x = a[i]!;
    if (Number.isNaN(x)) nan++;
    const e = Math.abs(x - b[i]!) / s;
    if (e > TOL) bad++;
    else rel = Math.max(rel, e);
  }
  return { rel, bad, nan };
}

/** Largest |value|. */
const range = (b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(b[i]!));
  return m;
};

/**
 * `minScale`: blobness (λ1²/|λ3| ≤ |λ1|, HU) inherits the absolute error of the eigenvalues, so
 * its error is measured against the eigenvalues' scale — the range of the LoG at the same σ —
 * when that is larger than its own range (regions without blobs, where blobness is ~0.05 HU
 * while the eigenvalues are ~100 HU and float32 differences are ~1e-5 HU).
 */
function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, what: string, log: Record<string, number>, ties?: Record<string, number>, minScale = 0): void {
  const { rel, bad, nan } = relErr(a, b, minScale);
  log[what] = rel;
  assert.equal(nan, 0, `${what}: ${nan} NaN`);
  const allowed = tieMeasure(what) ? Math.floor(TIE_FRACTION * a.length) : 0;
  if (bad > 0 && ties) ties[what] = bad;
  assert.ok(bad <= allowed, `${what}: ${bad} of ${a.length} values beyond relative error ${TOL} (allowed ${allowed})`);
}

/** Noise plus a bright ball, tube and plate in a dark background: every Hessian measure fires somewhere. */
function structured(d: Vec3, sp: Vec3, seed: number): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(d[0] * d[1] * d[2]);
  const c = [(d[0] * sp[0]) / 2, (d[1] * sp[1]) / 2, (d[2] * sp[2]) / 2];
  for (let z = 0, i = 0; z < d[2]; z++) {
    for (let y = 0; y < d[1]; y++) {
      for (let x = 0; x < d[0]; x++, i++) {
        const X = x * sp[0];
        const Y = y * sp[1];
        const Z = z * sp[2];
        let v = -850 + rng.normal(0, 30);
        if ((X - c[0]! * 0.6) ** 2 + (Y - c[1]!) ** 2 + (Z - c[2]!) ** 2 <= 36) v = 40 + rng.normal(0, 10);
        if ((Y - c[1]! * 0.5) ** 2 + (Z - c[2]!) ** 2 <= 4) v = 30;
        if (Math.abs(X - c[0]! * 1.5) <= 1.2) v = 0;
        out[i] = v;
      }
    }
  }
  return out;
}

test('device option parsing; "cpu" opens nothing and logs one line', async () => {
  assert.equal(parseFeatureDevice('auto'), 'auto');
  assert.throws(() => parseFeatureDevice('tpu'), /auto, gpu, cpu/);
  const lines: string[] = [];
  assert.equal(await openFeatureDevice('cpu', (l) => lines.push(l)), null);
  assert.equal(lines.length, 1);
  // 'auto' logs its choice in one line whatever the machine has.
  const auto: string[] = [];
  const dev = await openFeatureDevice('auto', (l) => auto.push(l));
  dev?.close();
  assert.equal(auto.length, 1);
  assert.match(auto[0]!, /^features: device (cpu|gpu)/);
});

test('no Vulkan driver at all: "auto" takes the CPU path with one info line, "gpu" fails clearly', () => {
  // A child process whose Vulkan loader finds no driver (the variable only simulates the machine).
  const gpuJs = fileURLToPath(new URL('../src/features/gpu.js', import.meta.url));
  const script = (choice: string): string =>
    `const { openFeatureDevice } = await import(${JSON.stringify(pathToFileURL(gpuJs).href)});` +
    `const d = await openFeatureDevice('${choice}', (l) => console.log(l)); console.log(d ? 'gpu' : 'cpu'); d?.close();`;
  const env = { ...process.env, VK_ICD_FILENAMES: '/nonexistent/icd.json', VK_DRIVER_FILES: '/nonexistent/icd.json' };
  const auto = spawnSync(process.execPath, ['--input-type=module', '-e', script('auto')], { env, encoding: 'utf8' });
  assert.equal(auto.status, 0, auto.stderr);
  const lines = auto.stdout.trim().split('\n');
  assert.equal(lines.length, 2, auto.stdout);
  // Without the Vulkan loader itself (a machine that never installed libvulkan1), that is the reason given.
  assert.match(lines[0]!, /^features: device cpu \(TypeScript path; no WebGPU: no Vulkan (driver|loader \(libvulkan\.so\.1\)) on this machine/);
  assert.equal(lines[1], 'cpu');
  // Dawn is not asked, so none of its native warnings (with their source-file stack lines).
  assert.equal(auto.stderr, '');
  const forced = spawnSync(process.execPath, ['--input-type=module', '-e', script('gpu')], { env, encoding: 'utf8' });
  assert.notEqual(forced.status, 0);
  assert.match(forced.stderr, /--device gpu: no WebGPU: no Vulkan (driver|loader)/);
  assert.doesNotMatch(forced.stderr, /\.cpp:\d+|vkCreateInstance/); // nothing from Dawn
});

test('Vulkan look-up before Dawn: library folders, driver manifests, GPU device nodes', (t) => {
  const dir = tempDir(t);
  const conf = join(dir, 'ld.so.conf.d');
  mkdirSync(conf);
  writeFileSync(join(conf, 'b.conf'), '# comment\n/opt/b/lib  # trailing\ninclude /x/*.conf\n');
  writeFileSync(join(conf, 'a.conf'), '/opt/a/lib\n');
  writeFileSync(join(conf, 'a.txt'), '/opt/ignored\n');
  const dirs = libraryDirs('/first::/second', conf, 'x64');
  assert.deepEqual(dirs.slice(0, 4), ['/first', '/second', '/opt/a/lib', '/opt/b/lib']);
  assert.ok(dirs.includes('/usr/lib/x86_64-linux-gnu') && dirs.includes('/lib') && !dirs.includes('/opt/ignored'));
  const lib = join(dir, 'lib');
  mkdirSync(lib);
  const icd = join(dir, 'share', 'vulkan', 'icd.d');
  mkdirSync(icd, { recursive: true });
  assert.match(missingVulkan([lib], [join(icd, 'x.json')], 'linux')!, /no Vulkan loader \(libvulkan\.so\.1\)/);
  writeFileSync(join(lib, 'libvulkan.so.1'), '');
  assert.deepEqual(vulkanDriverManifests({ XDG_DATA_DIRS: join(dir, 'share'), XDG_CONFIG_DIRS: join(dir, 'none') }).filter((f) => f.startsWith(dir)), []);
  assert.match(missingVulkan([lib], [], 'linux')!, /no Vulkan driver/);
  writeFileSync(join(icd, 'lvp_icd.json'), '{}');
  writeFileSync(join(icd, 'notes.txt'), '');
  assert.deepEqual(vulkanDriverManifests({ XDG_DATA_DIRS: join(dir, 'share'), XDG_CONFIG_DIRS: join(dir, 'none') }).filter((f) => f.startsWith(dir)), [join(icd, 'lvp_icd.json')]);
  // The override variables replace the search.
  assert.deepEqual(vulkanDriverManifests({ VK_ICD_FILENAMES: '/nonexistent/icd.json', XDG_DATA_DIRS: join(dir, 'share') }), []);
  assert.deepEqual(vulkanDriverManifests({ VK_DRIVER_FILES: icd }), [join(icd, 'lvp_icd.json')]);
  assert.equal(missingVulkan([lib], [join(icd, 'lvp_icd.json')], 'linux'), null);
  assert.equal(missingVulkan([], [], 'darwin'), null);
  const dev = join(dir, 'dev');
  mkdirSync(join(dev, 'dri'), { recursive: true });
  writeFileSync(join(dev, 'nvidiactl'), '');
  writeFileSync(join(dev, 'dri', 'card0'), '');
  assert.deepEqual(gpuDeviceNodes(dev), []);
  writeFileSync(join(dev, 'nvidia0'), '');
  writeFileSync(join(dev, 'dri', 'renderD128'), '');
  assert.deepEqual(gpuDeviceNodes(dev), [join(dev, 'dri', 'renderD128'), join(dev, 'nvidia0')]);
  assert.match(NO_GPU_DEVICE, /software adapter/);
});

test('z-slab plan: every point in exactly one slab, halos inside the region, budget kept', () => {
  const z = Int32Array.from([0, 0, 1, 5, 6, 9, 12, 12, 19]);
  const slabs = planZSlabs(z, 20, 10, 2, 2, 10 * 9);
  let covered = 0;
  for (const s of slabs) {
    assert.ok((s.z1 - s.z0) * 10 <= 90);
    assert.equal(s.z0 % 2, 0);
    for (let i = s.start; i < s.end; i++) {
      assert.ok(z[i]! - 2 >= s.z0 || s.z0 === 0);
      assert.ok(z[i]! + 2 < s.z1 || s.z1 === 20);
    }
    covered += s.end - s.start;
  }
  assert.equal(covered, z.length);
  assert.ok(slabs.length > 1);
  assert.throws(() => planZSlabs(z, 20, 10, 10, 1, 50), /exceeds the GPU buffer limit/);
  // A point budget cuts slabs too (even when the volume would fit), points at one z may straddle.
  const byPoints = planZSlabs(z, 20, 10, 2, 1, 1000, 2);
  assert.deepEqual(byPoints.map((s) => s.end - s.start), [2, 2, 2, 2, 1]);
  for (const s of byPoints) for (let i = s.start; i < s.end; i++) assert.ok(z[i]! >= s.z0 && z[i]! < s.z1);
});

test('GPU errors reject the call (and the runtime stays usable)', { skip }, async () => {
  await assert.rejects(
    rt!.compute((batch) => ({ result: rt!.storage(batch, 2 ** 40), floats: 1 })),
    /GPU (validation error|out of memory)/,
  );
  const ok = await smoothOnGpu(rt!, new Float32Array(27).fill(5), [3, 3, 3], [1, 1, 1], 1);
  assert.ok(ok.data.every((v) => Math.abs(v - 5) < 1e-5));
});

test('separable Gaussian: GPU = TypeScript on random odd-sized volumes, voxel grid and lattice', { skip }, async () => {
  const errs: Record<string, number> = {};
  const ties: Record<string, number> = {};
  const rng = new Rng(1);
  for (const [d, sp] of [
    [[17, 13, 11], [1.5, 1.5, 2.5]],
    [[9, 23, 7], [0.7, 0.7, 1.25]],
  ] as [Vec3, Vec3][]) {
    const v = Float32Array.from({ length: d[0] * d[1] * d[2] }, () => rng.uniform(-1024, 1500));
    for (const sigma of [1, 2, 4, 8]) {
      const step = latticeStep(sigma, sp);
      for (const st of [[1, 1, 1], step] as Vec3[]) {
        const cpu = gaussianSmooth(v, d, sp, sigma, st);
        const gpu = await smoothOnGpu(rt!, v, d, sp, sigma, st);
        assert.deepEqual(gpu.dims, cpu.dims);
        expectClose(gpu.data, cpu.data, `${d.join('x')} σ${sigma} step ${st.join(',')}`, errs, ties);
      }
    }
  }
  console.log(`# smoothing max rel err: ${Math.max(...Object.values(errs)).toExponential(2)}`);
});

test('Gaussian job channels (mean, std, gradient, LoG, vesselness, blobness, plateness) = TypeScript filters', { skip }, async () => {
  const errs: Record<string, number> = {};
  const ties: Record<string, number> = {};
  const d: Vec3 = [31, 27, 19];
  const sp: Vec3 = [0.9, 0.9, 1.5];
  const v = structured(d, sp, 2);
  const n = v.length;
  const all = Uint32Array.from({ length: n }, (_, i) => i);
  for (const sigma of [1, 2, 4]) {
    const out = await gaussianPointsOnGpu(rt!, v, d, sp, sigma, [1, 1, 1], { std: true, grad: true, hessian: true }, all);
    const ch = (c: number): Float32Array => Float32Array.from({ length: n }, (_, i) => out[i * 7 + c]!);
    const ms = localMeanStd(v, d, sp, sigma);
    const hm = hessianMeasures(v, d, sp, sigma);
    expectClose(ch(0), ms.mean, `mean σ${sigma}`, errs, ties);
    expectClose(ch(1), ms.std, `std σ${sigma}`, errs, ties);
    expectClose(ch(2), gradientMagnitude(v, d, sp, sigma), `grad σ${sigma}`, errs, ties);
    expectClose(ch(3), hm.log, `log σ${sigma}`, errs, ties);
    expectClose(ch(4), hm.vesselness, `vesselness σ${sigma}`, errs, ties);
    expectClose(ch(5), hm.blobness, `blobness σ${sigma}`, errs, ties, range(hm.log));
    expectClose(ch(6), hm.plateness, `plateness σ${sigma}`, errs, ties);
  }
  console.log(`# Gaussian job channels, values at |λ| ties: ${JSON.stringify(ties)}`);
  console.log(`# Gaussian job channels, rel err: ${JSON.stringify(Object.fromEntries(Object.entries(errs).map(([k, e]) => [k, Number(e.toExponential(2))])))}`);
});

test('texture (local mean/std of the gradient magnitude) = TypeScript filters', { skip }, async () => {
  const errs: Record<string, number> = {};
  const ties: Record<string, number> = {};
  const d: Vec3 = [21, 18, 13];
  const sp: Vec3 = [1.2, 1.2, 2];
  const v = structured(d, sp, 3);
  const n = v.length;
  const out = await texturePointsOnGpu(rt!, v, d, sp, 1, 4, [1, 1, 1], true, Uint32Array.from({ length: n }, (_, i) => i));
  const ref = gradientTexture(v, d, sp, 1, 4);
  expectClose(Float32Array.from({ length: n }, (_, i) => out[2 * i]!), ref.mean, 'texture mean', errs);
  expectClose(Float32Array.from({ length: n }, (_, i) => out[2 * i + 1]!), ref.std, 'texture std', errs);
  console.log(`# texture rel err: ${JSON.stringify(errs)}`);
});

/** For a blobness column: the range of the LoG column at its σ (see expectClose); else 0. */
function blobScale(name: string, names: readonly string[], rows: Float32Array): number {
  if (!name.startsWith('blobness_')) return 0;
  const c = names.indexOf(name.replace('blobness_', 'log_'));
  if (c < 0) return 0;
  const F = names.length;
  return range(Float32Array.from({ length: rows.length / F }, (_, k) => rows[k * F + c]!));
}

test('feature extraction with the GPU = the CPU path, whole box and across z-slab boundaries', { skip }, async () => {
  const errs: Record<string, number> = {};
  const ties: Record<string, number> = {};
  // All features on one box (every lattice, 16 mm included), then z-slabs: a taller volume whose
  // jobs (σ ≤ 8 mm: lattices in x, y and z) are cut into slabs of ~40 slices with their halos.
  const cases: { d: Vec3; sp: Vec3; names?: string[]; slabSlices?: number }[] = [
    { d: [40, 36, 30], sp: [1.4, 1.4, 2.5] },
    { d: [22, 20, 90], sp: [1.4, 1.4, 2], names: FEATURES.filter((f) => !f.name.includes('16mm') && f.spec.kind !== 'context').map((f) => f.name), slabSlices: 40 },
  ];
  for (const { d, sp, names, slabSlices } of cases) {
    const ct = structured(d, sp, 4);
    const ctx = buildFeatureContext(findLungs(ct, d, sp), d, sp);
    const rng = new Rng(6);
    const n = ct.length;
    const voxels = Int32Array.from(rng.shuffled(Array.from({ length: 1500 }, () => rng.int(0, n - 1)).concat([0, n - 1])));
    const cpu = await extractFeatures(ct, d, sp, ctx, voxels, { workers: 0, names });
    const gpu = new GpuFeatures(rt!, slabSlices ? { maxSlabVoxels: d[0] * d[1] * slabSlices } : {});
    const tag = slabSlices ? 'slabs' : 'whole';
    const res = await extractFeatures(ct, d, sp, ctx, voxels, { workers: slabSlices ? 1 : 0, gpu, names });
    const used = names ? FEATURES.filter((f) => names.includes(f.name)) : [...FEATURES];
    const F = used.length;
    used.forEach((f, c) => {
      const a = Float32Array.from({ length: voxels.length }, (_, k) => res.rows[k * F + c]!);
      const b = Float32Array.from({ length: voxels.length }, (_, k) => cpu.rows[k * F + c]!);
      // Columns of the TypeScript path (HU, min/max, context) stay bit-identical.
      if (['hu', 'min', 'max', 'context'].includes(f.spec.kind)) assert.deepEqual(a, b, f.name);
      else expectClose(a, b, `${tag} ${f.name}`, errs, ties, blobScale(f.name, used.map((u) => u.name), cpu.rows));
    });
  }
  const worst = Object.entries(errs).sort((a, b) => b[1] - a[1]).slice(0, 3);
  console.log(`# extraction, values at |λ| ties: ${JSON.stringify(ties)}`);
  console.log(`# extraction, worst columns: ${worst.map(([k, e]) => `${k} ${e.toExponential(2)}`).join(', ')}`);
});

test('real scan: GPU features = CPU features in a block of the lungs', { skip: skip || (realDataDir() === null ? 'no real data' : false) }, async () => {
  const dir = join(realDataDir()!, 'train', 'volume');
  const file = readdirSync(dir).filter((f) => f.endsWith('.nii') || f.endsWith('.nii.gz')).sort()[0];
  if (!file) return;
  const vol = readNifti(join(dir, file));
  const d = vol.dims;
  const sp = vol.spacing;
  const hu = Float32Array.from(vol.data);
  // Voxels of a 48 × 48 × 8 block beside the centre (lung on most chest CTs): the box the jobs
  // read stays small enough for llvmpipe. Filter features only (context needs the lung finder).
  const names = FEATURES.filter((f) => f.spec.kind !== 'context').map((f) => f.name);
  const picks: number[] = [];
  const x0 = Math.floor(d[0] * 0.3);
  const y0 = Math.floor(d[1] * 0.45);
  const z0 = Math.floor(d[2] * 0.5);
  for (let z = z0; z < z0 + 8; z++) for (let y = y0; y < y0 + 48; y++) for (let x = x0; x < x0 + 48; x += 2) picks.push(x + d[0] * (y + d[1] * z));
  const voxels = Int32Array.from(picks);
  const noContext = (): never => {
    throw new Error('context not requested');
  };
  const cpu = await extractFeatures(hu, d, sp, noContext, voxels, { workers: 2, names });
  const gpu = await extractFeatures(hu, d, sp, noContext, voxels, { workers: 2, names, gpu: new GpuFeatures(rt!) });
  const errs: Record<string, number> = {};
  const ties: Record<string, number> = {};
  names.forEach((name, c) => {
    const a = Float32Array.from({ length: voxels.length }, (_, k) => gpu.rows[k * names.length + c]!);
    const b = Float32Array.from({ length: voxels.length }, (_, k) => cpu.rows[k * names.length + c]!);
    expectClose(a, b, name, errs, ties, blobScale(name, names, cpu.rows));
  });
  const worst = Object.entries(errs).sort((a, b) => b[1] - a[1]).slice(0, 3);
  console.log(`# real scan, values at |λ| ties: ${JSON.stringify(ties)}`);
  console.log(`# real scan ${file} ${d.join('x')}, ${voxels.length} voxels; worst columns: ${worst.map(([k, e]) => `${k} ${e.toExponential(2)}`).join(', ')}`);
});
