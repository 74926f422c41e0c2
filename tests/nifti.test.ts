import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import {
  readNifti, readNiftiAsync, readNiftiHeader, writeNifti, writeNiftiMask, sourceFromAffine, qformAffine, bestAffine, encodeHeader,
  quaternFromAffine, DT_INT16, DT_FLOAT32,
} from '../src/io/nifti.js';
import { readMaskFor } from '../src/io/masks.js';
import { InputError } from '../src/core/errors.js';
import type { Mat4, Vec3, Volume, VoxelArray } from '../src/core/volume.js';
import { Rng } from '../src/core/random.js';
import { realDataDir, tempDir } from './helpers.js';

const PY = '/usr/bin/python3';

function hasNibabel(): boolean {
  return spawnSync(PY, ['-c', 'import nibabel'], { encoding: 'utf8' }).status === 0;
}

function runPython(script: string, args: string[]): string {
  const r = spawnSync(PY, ['-c', script, ...args], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Asserts fn throws an InputError whose message names `file` and matches `problem`. */
function assertInputError(fn: () => unknown, file: string, problem: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InputError, `expected InputError, got ${String(err)}`);
    assert.equal(err.file, file);
    assert.ok(err.message.startsWith(file), err.message);
    assert.match(err.message, problem);
    return true;
  });
}

function maxAbsDiff(a: readonly (readonly number[])[], b: readonly (readonly number[])[]): number {
  let m = 0;
  for (let r = 0; r < a.length; r++) for (let c = 0; c < a[r]!.length; c++) m = Math.max(m, Math.abs(a[r]![c]! - b[r]![c]!));
  return m;
}

function rotation(ax: number, ay: number, az: number): number[][] {
  const cx = Math.cos(ax), sx = Math.sin(ax), cy = Math.cos(ay), sy = Math.sin(ay), cz = Math.cos(az), sz = Math.sin(az);
  const rx = [[1, 0, 0], [0, cx, -sx], [0, sx, cx]];
  const ry = [[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]];
  const rz = [[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]];
  const mul = (a: number[][], b: number[][]): number[][] => a.map((row) => [0, 1, 2].map((j) => row[0]! * b[0]![j]! + row[1]! * b[1]![j]! + row[2]! * b[2]![j]!));
  return mul(rz, mul(ry, rx));
}

function affineFrom(r: number[][], zooms: Vec3, flipZ: boolean, offset: Vec3): Mat4 {
  const z: Vec3 = [zooms[0], zooms[1], flipZ ? -zooms[2] : zooms[2]];
  return [
    [r[0]![0]! * z[0], r[0]![1]! * z[1], r[0]![2]! * z[2], offset[0]],
    [r[1]![0]! * z[0], r[1]![1]! * z[1], r[1]![2]! * z[2], offset[1]],
    [r[2]![0]! * z[0], r[2]![1]! * z[1], r[2]![2]! * z[2], offset[2]],
    [0, 0, 0, 1],
  ];
}

// ---------------------------------------------------------------------------------------------
// Golden files from nibabel

/** Writes the golden cases with nibabel and a manifest (expected voxels as float64 .bin, x fastest). */
const GOLDEN_PY = String.raw`
import sys, os, json, gzip, struct
import numpy as np, nibabel as nib
out = sys.argv[1]
rng = np.random.default_rng(7)
shape = (7, 5, 4)

def rot(ax, ay, az):
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rx = np.array([[1,0,0],[0,cx,-sx],[0,sx,cx]]); ry = np.array([[cy,0,sy],[0,1,0],[-sy,0,cy]]); rz = np.array([[cz,-sz,0],[sz,cz,0],[0,0,1]])
    return rz @ ry @ rx

def aff(r, zooms, flipz, off):
    a = np.eye(4); z = np.array(zooms, float); z[2] *= (-1 if flipz else 1)
    a[:3,:3] = r @ np.diag(z); a[:3,3] = off; return a

A_OBL = aff(rot(0.2, -0.1, 0.35), (0.8, 0.9, 2.5), False, (-100.5, 20.25, 33.125))
A_IMP = aff(rot(-0.3, 0.15, 2.0), (0.7, 0.75, 1.25), True, (12.0, -140.5, 300.75))
A_LPS = np.array([[-0.9765625,0,0,249.5],[0,-0.9765625,0,460.5],[0,0,3.0,-681.5],[0,0,0,1.0]])
A_SHEAR = np.array([[0.9,0.1,0,-10],[0,1.1,0.05,5],[0.02,0,2.0,7],[0,0,0,1.0]])

def data_for(dt, shp=shape):
    dt = np.dtype(dt)
    if dt.kind in 'iu':
        info = np.iinfo(dt)
        a = rng.integers(info.min, info.max, size=shp, endpoint=True).astype(dt)
        a.flat[0] = info.min
        a[(-1,)*len(shp)] = info.max
    else:
        a = rng.normal(0, 1000, size=shp).astype(dt)
        a.flat[0] = -np.finfo(dt).max / 4
        a[(-1,)*len(shp)] = dt.type(12345.678)
    return a

cases = []
def save(img, name, note, patch=None, expected_affine=None):
    path = os.path.join(out, name)
    raw_path = path[:-3] if name.endswith('.gz') else path
    nib.save(img, raw_path)
    if patch is not None:
        b = bytearray(open(raw_path, 'rb').read()); patch(b); open(raw_path, 'wb').write(bytes(b))
    if name.endswith('.gz'):
        data = open(raw_path, 'rb').read(); os.remove(raw_path)
        with gzip.open(path, 'wb') as f: f.write(data)
    back = nib.load(path)
    h = back.header
    raw = np.asanyarray(back.dataobj.get_unscaled()) if hasattr(back.dataobj, 'get_unscaled') else np.asanyarray(back.dataobj)
    # nibabel moves scl_slope/scl_inter from the header to the data proxy on load (1, 0 when unset or slope 0).
    slope, inter = float(back.dataobj.slope), float(back.dataobj.inter)
    scaled = not (slope == 1 and inter == 0)
    exp = raw.astype(np.float64) * slope + inter if scaled else raw.astype(np.float64)
    assert np.allclose(exp, np.asanyarray(back.dataobj).astype(np.float64), rtol=1e-6, atol=1e-4)
    exp.ravel(order='F').astype('<f8').tofile(path + '.bin')
    ea = back.affine if expected_affine is None else expected_affine
    cases.append(dict(file=name, note=note, shape=[int(s) for s in back.shape], affine=np.asarray(ea).tolist(),
                      dtype=str(raw.dtype.newbyteorder('=')), scaled=scaled,
                      big=h.endianness == '>', version=2 if isinstance(h, nib.Nifti2Header) else 1))

def make(cls, hcls, arr, a, big=False, q=1, s=1):
    hdr = hcls(endianness='>' if big else '<')
    hdr.set_data_dtype(arr.dtype)  # a passed header's dtype would otherwise win
    img = cls(arr, a, header=hdr)
    img.set_qform(a if q else None, code=q)
    img.set_sform(a if s else None, code=s)
    return img

dtypes = ['uint8', 'int8', 'int16', 'uint16', 'int32', 'float32', 'float64']
for v, (cls, hcls) in enumerate([(nib.Nifti1Image, nib.Nifti1Header), (nib.Nifti2Image, nib.Nifti2Header)], start=1):
    for i, dt in enumerate(dtypes):
        ext = '.nii.gz' if (i + v) % 2 == 0 else '.nii'
        a = A_OBL if i % 2 == 0 else A_IMP
        save(make(cls, hcls, data_for(dt), a), f'v{v}_{dt}{ext}', f'NIfTI-{v} {dt}')

# big-endian
for v, cls, hcls, dt, ext in [(1, nib.Nifti1Image, nib.Nifti1Header, 'int16', '.nii.gz'), (1, nib.Nifti1Image, nib.Nifti1Header, 'float64', '.nii'),
                              (1, nib.Nifti1Image, nib.Nifti1Header, 'uint16', '.nii'), (2, nib.Nifti2Image, nib.Nifti2Header, 'float32', '.nii.gz'),
                              (2, nib.Nifti2Image, nib.Nifti2Header, 'int32', '.nii'), (2, nib.Nifti2Image, nib.Nifti2Header, 'float64', '.nii.gz')]:
    save(make(cls, hcls, data_for(dt), A_LPS, big=True), f'be_v{v}_{dt}{ext}', f'big-endian NIfTI-{v} {dt}')

# scl_slope / scl_inter, patched into the stored header
def scl(version, big, slope, inter):
    fmt = ('>' if big else '<') + ('f' if version == 1 else 'd')
    off = (112, 116) if version == 1 else (176, 184)
    def patch(b):
        struct.pack_into(fmt, b, off[0], slope); struct.pack_into(fmt, b, off[1], inter)
    return patch
save(make(nib.Nifti1Image, nib.Nifti1Header, data_for('int16'), A_LPS), 'scl_v1_int16.nii.gz', 'int16 slope 2.5 inter -1024', scl(1, False, 2.5, -1024.0))
save(make(nib.Nifti1Image, nib.Nifti1Header, data_for('uint8'), A_OBL), 'scl_v1_uint8.nii', 'uint8 slope 0.5 inter 0.25', scl(1, False, 0.5, 0.25))
save(make(nib.Nifti2Image, nib.Nifti2Header, data_for('int16'), A_IMP, big=True), 'scl_be_v2_int16.nii', 'big-endian NIfTI-2 int16 slope 3 inter 7', scl(2, True, 3.0, 7.0))
save(make(nib.Nifti1Image, nib.Nifti1Header, data_for('float64'), A_OBL), 'scl_v1_float64.nii', 'float64 slope 2 inter 1', scl(1, False, 2.0, 1.0))
save(make(nib.Nifti1Image, nib.Nifti1Header, data_for('int16'), A_OBL), 'scl_zero_v1_int16.nii', 'slope 0 means unscaled', scl(1, False, 0.0, 5.0))

# which affine
save(make(nib.Nifti1Image, nib.Nifti1Header, data_for('int16'), A_IMP, q=1, s=0), 'qform_only.nii.gz', 'qform only, qfac -1, oblique')
save(make(nib.Nifti2Image, nib.Nifti2Header, data_for('float32'), A_OBL, q=1, s=0), 'qform_only_v2.nii', 'NIfTI-2 qform only')
save(make(nib.Nifti1Image, nib.Nifti1Header, data_for('int16'), A_SHEAR, q=0, s=1), 'sform_only.nii.gz', 'sform only, sheared')
neither = make(nib.Nifti1Image, nib.Nifti1Header, data_for('int16'), A_OBL, q=0, s=0)
neither.header.set_zooms((0.8, 0.9, 2.5))
# NIfTI method 1 (niftilib): diag(pixdim); nibabel instead centres the grid and flips x.
save(neither, 'neither.nii.gz', 'neither qform nor sform', expected_affine=np.diag([0.8, 0.9, 2.5, 1.0]))
# both set, qform_code > sform_code: the sform still wins (nifti-reader-js gets this wrong)
both = make(nib.Nifti1Image, nib.Nifti1Header, data_for('int16'), A_OBL, q=2, s=1)
both.set_qform(A_LPS, code=2)
save(both, 'both_q_gt_s.nii.gz', 'sform preferred over a different qform with a higher code')
# 4D with a single volume is still a 3D image
save(make(nib.Nifti1Image, nib.Nifti1Header, data_for('int16', shape + (1,)), A_LPS), 'four_d_t1.nii.gz', '4D with t=1')
json.dump(cases, open(os.path.join(out, 'manifest.json'), 'w'))
`;

/** For pairs (input, ours): nibabel's view of each, to compare shape, affine, header geometry and data. */
const COMPARE_PY = String.raw`
import sys, json
import numpy as np, nibabel as nib
pairs = json.load(open(sys.argv[1]))
res = []
for a_path, b_path, compare_data in pairs:
    a = nib.load(a_path); b = nib.load(b_path); ha = a.header; hb = b.header
    r = dict(file=b_path, shape_a=list(a.shape), shape_b=list(b.shape),
             affine=float(np.max(np.abs(a.affine - b.affine))),
             qform=float(np.max(np.abs(ha.get_qform() - hb.get_qform()))),
             sform=float(np.max(np.abs(ha.get_sform() - hb.get_sform()))),
             codes_a=[int(ha['qform_code']), int(ha['sform_code'])], codes_b=[int(hb['qform_code']), int(hb['sform_code'])],
             pixdim=float(np.max(np.abs(ha['pixdim'][:4] - hb['pixdim'][:4]))),
             units_a=int(ha['xyzt_units']), units_b=int(hb['xyzt_units']),
             version_a=type(ha).__name__, version_b=type(hb).__name__, endian_b=hb.endianness, dtype_b=str(b.get_data_dtype()))
    if compare_data:
        r['data'] = bool(np.array_equal(np.asanyarray(a.dataobj), np.asanyarray(b.dataobj)))
    res.append(r)
print(json.dumps(res))
`;

interface GoldenCase {
  file: string;
  note: string;
  shape: number[];
  affine: number[][];
  dtype: string;
  scaled: boolean;
  big: boolean;
  version: 1 | 2;
}

const CTOR_OF: Record<string, string> = {
  uint8: 'Uint8Array', int8: 'Int8Array', int16: 'Int16Array', uint16: 'Uint16Array',
  int32: 'Int32Array', float32: 'Float32Array', float64: 'Float64Array',
};

interface NibCompare {
  file: string;
  shape_a: number[];
  shape_b: number[];
  affine: number;
  qform: number;
  sform: number;
  codes_a: number[];
  codes_b: number[];
  pixdim: number;
  units_a: number;
  units_b: number;
  version_a: string;
  version_b: string;
  endian_b: string;
  dtype_b: string;
  data?: boolean;
}

function compareWithNibabel(dir: string, pairs: [string, string, boolean][]): NibCompare[] {
  const list = join(dir, 'pairs.json');
  writeFileSync(list, JSON.stringify(pairs));
  return JSON.parse(runPython(COMPARE_PY, [list])) as NibCompare[];
}

test('golden files from nibabel: every dtype, NIfTI-1/2, big-endian, scaling, qform/sform choice', { skip: !hasNibabel() && 'nibabel not available' }, (t) => {
  const dir = tempDir(t);
  runPython(GOLDEN_PY, [dir]);
  const cases = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as GoldenCase[];
  assert.ok(cases.length >= 27, `only ${cases.length} golden cases`);
  const pairs: [string, string, boolean][] = [];
  for (const c of cases) {
    const path = join(dir, c.file);
    const vol = readNifti(path);
    const bin = readFileSync(`${path}.bin`);
    const expected = new Float64Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer);
    assert.deepEqual(vol.dims, c.shape.slice(0, 3), c.note);
    assert.equal(vol.data.length, expected.length, c.note);
    const ctor = c.scaled ? (c.dtype === 'float64' ? 'Float64Array' : 'Float32Array') : CTOR_OF[c.dtype];
    assert.equal(vol.data.constructor.name, ctor, `${c.note}: output type`);
    const fround = vol.data instanceof Float32Array;
    for (let i = 0; i < expected.length; i++) {
      const want = fround ? Math.fround(expected[i]!) : expected[i]!;
      if (vol.data[i] !== want) assert.fail(`${c.note}: voxel ${i} is ${vol.data[i]}, nibabel says ${want}`);
    }
    const last = expected.length - 1;
    assert.equal(vol.data[last], fround ? Math.fround(expected[last]!) : expected[last], `${c.note}: last voxel`);
    assert.ok(maxAbsDiff(vol.affine, c.affine) <= 1e-6 * 512, `${c.note}: affine ${JSON.stringify(vol.affine)} vs ${JSON.stringify(c.affine)}`);
    assert.equal(vol.source?.version, c.version, c.note);
    assert.equal(vol.source?.littleEndian, !c.big, c.note);

    // Header-only read agrees with the full read.
    const h = readNiftiHeader(path);
    assert.deepEqual(h.dims, vol.dims);
    assert.deepEqual(h.affine, vol.affine);

    // Our writers on this grid: a mask, and the volume itself in its own dtype.
    const mask = new Uint8Array(vol.data.length);
    for (let i = 0; i < mask.length; i += 3) mask[i] = 1;
    const maskPath = join(dir, `mask_${c.file.replace(/\.nii(\.gz)?$/, '')}.nii.gz`);
    writeNiftiMask(maskPath, mask, vol);
    pairs.push([path, maskPath, false]);
    assert.deepEqual(readMaskFor(maskPath, vol), mask);
    if (!c.scaled) {
      const copyPath = join(dir, `copy_${c.file}`);
      writeNifti(copyPath, vol);
      pairs.push([path, copyPath, true]);
      const back = readNifti(copyPath);
      assert.deepEqual(back.data, vol.data);
      assert.deepEqual(back.affine, vol.affine);
      assert.deepEqual(back.source?.pixdim, vol.source?.pixdim);
    }
  }
  for (const r of compareWithNibabel(dir, pairs)) {
    assert.deepEqual(r.shape_b, r.shape_a, `${r.file}: shape`);
    assert.ok(r.affine <= 1e-6, `${r.file}: affine differs by ${r.affine}`);
    assert.ok(r.qform <= 1e-6 && r.sform <= 1e-6, `${r.file}: qform/sform differ by ${r.qform}/${r.sform}`);
    assert.deepEqual(r.codes_b, r.codes_a, `${r.file}: qform/sform codes`);
    assert.equal(r.pixdim, 0, `${r.file}: pixdim (incl. qfac)`);
    assert.equal(r.units_b, r.units_a, `${r.file}: xyzt_units`);
    assert.equal(r.version_b, r.version_a, `${r.file}: NIfTI version`);
    assert.equal(r.endian_b, '<', `${r.file}: written little-endian`);
    if (r.data === undefined) assert.equal(r.dtype_b, 'uint8', `${r.file}: mask dtype`);
    else assert.equal(r.data, true, `${r.file}: voxels`);
  }
});

test('synthetic volumes: sform and qform both encode the affine, as nibabel reads them', { skip: !hasNibabel() && 'nibabel not available' }, (t) => {
  const dir = tempDir(t);
  const dims: Vec3 = [6, 5, 4];
  const affines: [string, Mat4][] = [
    ['ras', [[0.7, 0, 0, -90], [0, 0.7, 0, -120.5], [0, 0, 2, -300.25], [0, 0, 0, 1]]],
    ['lps', [[-0.9765625, 0, 0, 249.5], [0, -0.9765625, 0, 460.5], [0, 0, 3, -681.5], [0, 0, 0, 1]]],
    ['oblique', affineFrom(rotation(0.3, -0.2, 0.9), [0.8, 0.85, 2.5], false, [10, -20, 30])],
    ['improper', affineFrom(rotation(-1.1, 0.4, 2.8), [0.6, 0.6, 1.5], true, [-5, 6.5, 700])],
    ['half-turn', affineFrom(rotation(Math.PI, 0, 0), [1, 1, 1], false, [0, 0, 0])],
  ];
  const script = String.raw`
import sys, json, numpy as np, nibabel as nib
out = []
for p in sys.argv[1:]:
    im = nib.load(p); h = im.header
    out.append(dict(shape=list(im.shape), qform=h.get_qform().tolist(), sform=h.get_sform().tolist(), codes=[int(h['qform_code']), int(h['sform_code'])]))
print(json.dumps(out))`;
  const paths: string[] = [];
  for (const [name, affine] of affines) {
    const spacing = [0, 1, 2].map((j) => Math.hypot(affine[0][j], affine[1][j], affine[2][j])) as Vec3;
    const vol: Volume = { data: new Int16Array(120).map((_, i) => i - 60), dims, spacing, affine };
    const src = sourceFromAffine(dims, spacing, affine);
    assert.ok(maxAbsDiff(qformAffine(src), affine) < 1e-12, `${name}: qform from quaternion`);
    assert.deepEqual(bestAffine(src), affine);
    const p = join(dir, `${name}.nii.gz`);
    writeNifti(p, vol);
    paths.push(p);
    const back = readNifti(p);
    assert.ok(maxAbsDiff(back.affine, affine) < 1e-4, `${name}: read back`);
    assert.ok(maxAbsDiff(qformAffine(back.source!), affine) < 1e-4, `${name}: qform read back`);
    assert.deepEqual(back.data, vol.data);
  }
  const got = JSON.parse(runPython(script, paths)) as { shape: number[]; qform: number[][]; sform: number[][]; codes: number[] }[];
  got.forEach((g, i) => {
    const [name, affine] = affines[i]!;
    assert.deepEqual(g.shape, dims);
    assert.deepEqual(g.codes, [1, 1], name);
    assert.ok(maxAbsDiff(g.sform, affine) < 1e-4, `${name}: nibabel sform`);
    assert.ok(maxAbsDiff(g.qform, affine) < 1e-4, `${name}: nibabel qform ${JSON.stringify(g.qform)}`);
  });
});

// ---------------------------------------------------------------------------------------------
// Without python

const DTYPE_ARRAYS: [string, () => VoxelArray][] = [
  ['uint8', () => Uint8Array.from({ length: 60 }, (_, i) => (i * 37) % 256)],
  ['int8', () => Int8Array.from({ length: 60 }, (_, i) => ((i * 37) % 256) - 128)],
  ['int16', () => Int16Array.from({ length: 60 }, (_, i) => i * 1111 - 32768)],
  ['uint16', () => Uint16Array.from({ length: 60 }, (_, i) => i * 1111)],
  ['int32', () => Int32Array.from({ length: 60 }, (_, i) => (i - 30) * 71582788)],
  ['float32', () => Float32Array.from({ length: 60 }, (_, i) => Math.fround(Math.sin(i) * 1e5))],
  ['float64', () => Float64Array.from({ length: 60 }, (_, i) => Math.sin(i) * 1e300)],
];

test('our writer → our reader: every dtype, NIfTI-1 and NIfTI-2, .nii and .nii.gz', (t) => {
  const dir = tempDir(t);
  const dims: Vec3 = [5, 4, 3];
  const affine = affineFrom(rotation(0.1, 0.2, 0.3), [0.9, 0.8, 2], true, [1.5, -2.5, 3.25]);
  const spacing: Vec3 = [0.9, 0.8, 2];
  for (const version of [1, 2] as const) {
    for (const [name, make] of DTYPE_ARRAYS) {
      for (const ext of ['.nii', '.nii.gz']) {
        const source = { ...sourceFromAffine(dims, spacing, affine), version };
        const vol: Volume = { data: make(), dims, spacing, affine: bestAffine(source), source };
        const p = join(dir, `rt_v${version}_${name}${ext}`);
        writeNifti(p, vol);
        const back = readNifti(p);
        assert.equal(back.data.constructor, vol.data.constructor, `${name} v${version}${ext}`);
        assert.deepEqual(back.data, vol.data, `${name} v${version}${ext}`);
        assert.equal(back.source?.version, version);
        const tol = version === 2 ? 0 : 1e-5;
        assert.ok(maxAbsDiff(back.affine, affine) <= tol, `${name} v${version}: affine`);
        assert.equal(existsSync(p), true);
        const bytes = readFileSync(p);
        assert.equal(bytes[0] === 0x1f && bytes[1] === 0x8b, ext === '.nii.gz', 'gzip exactly when named .gz');
      }
    }
  }
});

test('a volume moved off its source grid is written with geometry from its own affine', (t) => {
  const dir = tempDir(t);
  const dims: Vec3 = [4, 3, 2];
  const affine: Mat4 = [[-0.5, 0, 0, 10], [0, -0.5, 0, 20], [0, 0, 2, -30], [0, 0, 0, 1]];
  const src = join(dir, 'src.nii.gz');
  writeNifti(src, { data: new Int16Array(24).map((_, i) => i), dims, spacing: [0.5, 0.5, 2], affine });
  const vol = readNifti(src);
  // Same dims, other affine (e.g. reoriented), still carrying the old source and a stale spacing.
  const flipped: Mat4 = [[0.5, 0, 0, 8.5], [0, 0.5, 0, 19], [0, 0, 2, -30], [0, 0, 0, 1]];
  const moved: Volume = { ...vol, affine: flipped, spacing: [1, 1, 1] };
  const out = join(dir, 'moved.nii');
  writeNifti(out, moved);
  const back = readNifti(out);
  assert.ok(maxAbsDiff(back.affine, flipped) < 1e-6);
  assert.ok(maxAbsDiff(qformAffine(back.source!), flipped) < 1e-6);
  assert.deepEqual(back.spacing, [0.5, 0.5, 2]);
  // A mask for the original grid keeps the source header.
  const m = join(dir, 'mask.nii.gz');
  writeNiftiMask(m, new Uint8Array(24), vol);
  assert.deepEqual(readNifti(m).source?.srow, vol.source?.srow);
  assert.throws(() => writeNiftiMask(m, new Uint8Array(5), vol), /5 voxels/);
});

interface HandHeader {
  version: 1 | 2;
  littleEndian: boolean;
  dim: number[];
  datatype: number;
  bitpix: number;
  pixdim?: number[];
  voxOffset?: number;
  slope?: number;
  inter?: number;
  sform?: number[][];
  qform?: { b: number; c: number; d: number; x: number; y: number; z: number };
}

/** A header written field by field (independently of the code under test), in either byte order. */
function handHeader(h: HandHeader): Buffer {
  const le = h.littleEndian;
  const size = h.version === 1 ? 348 : 540;
  const voxOffset = h.voxOffset ?? (h.version === 1 ? 352 : 544);
  const b = Buffer.alloc(Math.max(voxOffset, size + 4));
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const pixdim = h.pixdim ?? [1, 1, 1, 1, 0, 0, 0, 0];
  v.setInt32(0, size, le);
  if (h.version === 1) {
    for (let i = 0; i < 8; i++) v.setInt16(40 + 2 * i, h.dim[i] ?? 1, le);
    v.setInt16(70, h.datatype, le);
    v.setInt16(72, h.bitpix, le);
    for (let i = 0; i < 8; i++) v.setFloat32(76 + 4 * i, pixdim[i] ?? 0, le);
    v.setFloat32(108, voxOffset, le);
    v.setFloat32(112, h.slope ?? 0, le);
    v.setFloat32(116, h.inter ?? 0, le);
    v.setUint8(123, 2);
    if (h.qform) {
      v.setInt16(252, 1, le);
      [h.qform.b, h.qform.c, h.qform.d, h.qform.x, h.qform.y, h.qform.z].forEach((x, i) => v.setFloat32(256 + 4 * i, x, le));
    }
    if (h.sform) {
      v.setInt16(254, 1, le);
      h.sform.forEach((row, r) => row.forEach((x, c) => v.setFloat32(280 + 16 * r + 4 * c, x, le)));
    }
    b.write('n+1\0', 344, 'latin1');
  } else {
    b.write('n+2\0\r\n\x1a\n', 4, 'latin1');
    v.setInt16(12, h.datatype, le);
    v.setInt16(14, h.bitpix, le);
    for (let i = 0; i < 8; i++) v.setBigInt64(16 + 8 * i, BigInt(h.dim[i] ?? 1), le);
    for (let i = 0; i < 8; i++) v.setFloat64(104 + 8 * i, pixdim[i] ?? 0, le);
    v.setBigInt64(168, BigInt(voxOffset), le);
    v.setFloat64(176, h.slope ?? 0, le);
    v.setFloat64(184, h.inter ?? 0, le);
    if (h.qform) {
      v.setInt32(344, 1, le);
      [h.qform.b, h.qform.c, h.qform.d, h.qform.x, h.qform.y, h.qform.z].forEach((x, i) => v.setFloat64(352 + 8 * i, x, le));
    }
    if (h.sform) {
      v.setInt32(348, 1, le);
      h.sform.forEach((row, r) => row.forEach((x, c) => v.setFloat64(400 + 32 * r + 8 * c, x, le)));
    }
    v.setInt32(500, 2, le);
  }
  return b;
}

/** Voxel bytes of `values` in the given type and byte order. */
function voxelBytes(values: number[], type: 'i16' | 'f32' | 'f64' | 'u8' | 'i32', le: boolean): Buffer {
  const size = { u8: 1, i16: 2, i32: 4, f32: 4, f64: 8 }[type];
  const b = Buffer.alloc(values.length * size);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  values.forEach((x, i) => {
    if (type === 'u8') v.setUint8(i, x);
    else if (type === 'i16') v.setInt16(2 * i, x, le);
    else if (type === 'i32') v.setInt32(4 * i, x, le);
    else if (type === 'f32') v.setFloat32(4 * i, x, le);
    else v.setFloat64(8 * i, x, le);
  });
  return b;
}

test('hand-made headers: big-endian NIfTI-1/2, scaling, qform, sform, odd vox_offset', (t) => {
  const dir = tempDir(t);
  const dims = [3, 4, 3, 2];
  const n = 24;
  const values = Array.from({ length: n }, (_, i) => (i % 2 ? -1 : 1) * i * 1000);
  const sform = [[-0.5, 0, 0, 10], [0, -0.5, 0, 20], [0, 0, 2, -30]];
  for (const version of [1, 2] as const) {
    for (const le of [true, false]) {
      const name = `hand_v${version}_${le ? 'le' : 'be'}`;
      // int16 with sform.
      let p = join(dir, `${name}_i16.nii`);
      writeFileSync(p, Buffer.concat([handHeader({ version, littleEndian: le, dim: dims, datatype: 4, bitpix: 16, pixdim: [1, 0.5, 0.5, 2], sform }), voxelBytes(values, 'i16', le)]));
      let vol = readNifti(p);
      assert.deepEqual(vol.dims, [4, 3, 2]);
      assert.deepEqual(Array.from(vol.data), values, name);
      assert.deepEqual(vol.affine.slice(0, 3), sform, name);
      assert.equal(vol.source?.littleEndian, le);
      // float64 (8-byte swap), gzipped, with a qform: 180° about z (d = 1), qfac -1.
      p = join(dir, `${name}_f64.nii.gz`);
      const f = values.map((x) => x / 3);
      const qform = { b: 0, c: 0, d: 1, x: 5, y: 6, z: 7 };
      writeFileSync(p, gzipSync(Buffer.concat([handHeader({ version, littleEndian: le, dim: dims, datatype: 64, bitpix: 64, pixdim: [-1, 0.5, 0.75, 2], qform }), voxelBytes(f, 'f64', le)])));
      vol = readNifti(p);
      assert.ok(vol.data instanceof Float64Array);
      assert.deepEqual(Array.from(vol.data), f, name);
      assert.deepEqual(vol.affine, [[-0.5, 0, 0, 5], [0, -0.75, 0, 6], [0, 0, -2, 7], [0, 0, 0, 1]], `${name}: qform with qfac -1`);
      // int32 scaled: Float32 output.
      p = join(dir, `${name}_i32s.nii`);
      writeFileSync(p, Buffer.concat([handHeader({ version, littleEndian: le, dim: dims, datatype: 8, bitpix: 32, pixdim: [1, 1, 1, 1], slope: 0.5, inter: -3 }), voxelBytes(values, 'i32', le)]));
      vol = readNifti(p);
      assert.ok(vol.data instanceof Float32Array);
      assert.deepEqual(Array.from(vol.data), values.map((x) => Math.fround(x * 0.5 - 3)));
      assert.deepEqual(vol.affine, [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], 'neither form: diag(pixdim)');
    }
  }
  // vox_offset not a multiple of the voxel size: the reader copies to align.
  const p = join(dir, 'odd_offset.nii');
  writeFileSync(p, Buffer.concat([handHeader({ version: 1, littleEndian: true, dim: dims, datatype: 16, bitpix: 32, voxOffset: 355 }), voxelBytes(values, 'f32', true)]));
  assert.deepEqual(Array.from(readNifti(p).data), values);
});

test('bad files: each refused with an InputError naming the file', (t) => {
  const dir = tempDir(t);
  const good = handHeader({ version: 1, littleEndian: true, dim: [3, 4, 3, 2], datatype: 4, bitpix: 16, pixdim: [1, 1, 1, 1] });
  const data = voxelBytes(Array.from({ length: 24 }, (_, i) => i), 'i16', true);
  const write = (name: string, bytes: Uint8Array): string => {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    return p;
  };

  const missing = join(dir, 'nope.nii.gz');
  assertInputError(() => readNifti(missing), missing, /not found/);
  assertInputError(() => readNifti(dir), dir, /folder/);
  const rng = new Rng(3);
  const garbage = write('garbage.nii', Uint8Array.from({ length: 1024 }, () => rng.int(0, 255)));
  assertInputError(() => readNifti(garbage), garbage, /not a NIfTI/);
  const empty = write('empty.nii', new Uint8Array(0));
  assertInputError(() => readNifti(empty), empty, /not a NIfTI/);
  const gzGarbage = write('garbage.nii.gz', Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.alloc(100, 0xff)]));
  assertInputError(() => readNifti(gzGarbage), gzGarbage, /corrupt/);
  const gzOfGarbage = write('gzgarbage.nii.gz', gzipSync(Buffer.alloc(2000, 7)));
  assertInputError(() => readNifti(gzOfGarbage), gzOfGarbage, /not a NIfTI/);

  const full = Buffer.concat([good, data]);
  assert.equal(readNifti(write('ok.nii', full)).data.length, 24);
  const trunc = write('trunc.nii', full.subarray(0, full.length - 5));
  assertInputError(() => readNifti(trunc), trunc, /header claims 24 voxels .* but the file holds only 43 bytes of data/);
  const gz = gzipSync(full);
  const truncGz = write('trunc.nii.gz', gz.subarray(0, gz.length - 12));
  assertInputError(() => readNifti(truncGz), truncGz, /corrupt or truncated gzip/);
  const shortGz = write('short.nii.gz', gzipSync(full.subarray(0, full.length - 6)));
  assertInputError(() => readNifti(shortGz), shortGz, /holds only 42 bytes of data/);
  const headerOnlyGz = write('hdronly.nii.gz', gzipSync(full.subarray(0, 200)));
  assertInputError(() => readNifti(headerOnlyGz), headerOnlyGz, /not a NIfTI/);

  const variant = (name: string, h: Partial<HandHeader>, body: Uint8Array = data): string =>
    write(name, Buffer.concat([handHeader({ version: 1, littleEndian: true, dim: [3, 4, 3, 2], datatype: 4, bitpix: 16, pixdim: [1, 1, 1, 1], ...h }), body]));
  const twoD = variant('2d.nii', { dim: [2, 4, 6] });
  assertInputError(() => readNifti(twoD), twoD, /expected a 3D image, found a 2D one \(4x6\)/);
  const fourD = variant('4d.nii', { dim: [4, 2, 2, 3, 2] });
  assertInputError(() => readNifti(fourD), fourD, /4D one \(2x2x3x2\).*t>1/);
  assert.equal(readNifti(variant('4d1.nii', { dim: [4, 4, 3, 2, 1] })).dims.join(), '4,3,2');
  const zeroDim = variant('zero.nii', { dim: [3, 4, 0, 2] });
  assertInputError(() => readNifti(zeroDim), zeroDim, /invalid size 0 along axis 2/);
  const negDim = variant('neg.nii', { dim: [3, -4, 3, 2] });
  assertInputError(() => readNifti(negDim), negDim, /invalid size -4/);
  const badPix = variant('pix.nii', { pixdim: [1, 1, 0, 1] });
  assertInputError(() => readNifti(badPix), badPix, /pixdim\[2\] = 0/);
  const nanPix = variant('nanpix.nii', { pixdim: [1, 1, 1, NaN] });
  assertInputError(() => readNifti(nanPix), nanPix, /pixdim\[3\] = NaN/);
  const u32 = variant('u32.nii', { datatype: 768, bitpix: 32 });
  assertInputError(() => readNifti(u32), u32, /unsupported NIfTI datatype 768 \(uint32\)/);
  const rgb = variant('rgb.nii', { datatype: 128, bitpix: 24 });
  assertInputError(() => readNifti(rgb), rgb, /datatype 128 \(rgb24\)/);
  const lowOffset = variant('lowoff.nii', { voxOffset: 0 });
  assertInputError(() => readNifti(lowOffset), lowOffset, /vox_offset 0/);
  const nanVoxel = variant('nan.nii', { datatype: 16, bitpix: 32 }, voxelBytes([...Array(23).fill(1), NaN], 'f32', true));
  assertInputError(() => readNifti(nanVoxel), nanVoxel, /voxel \(3, 2, 1\) is NaN/);
  const infVoxel = variant('inf.nii', { datatype: 64, bitpix: 64 }, voxelBytes([1, -Infinity, ...Array(22).fill(0)], 'f64', true));
  assertInputError(() => readNifti(infVoxel), infVoxel, /voxel \(1, 0, 0\) is -Infinity/);
  const infScaled = variant('infscaled.nii', { slope: 3e38 }, data);
  assertInputError(() => readNifti(infScaled), infScaled, /is Infinity after scl_slope/);
  const singular = variant('singular.nii', { sform: [[1, 0, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0]] });
  assertInputError(() => readNifti(singular), singular, /sform affine is singular/);
  const badQuat = variant('quat.nii', { qform: { b: 1, c: 1, d: 0, x: 0, y: 0, z: 0 } });
  assertInputError(() => readNifti(badQuat), badQuat, /invalid qform quaternion/);

  const analyze = Buffer.from(good);
  analyze.write('\0\0\0\0', 344, 'latin1');
  const analyzePath = write('analyze.nii', Buffer.concat([analyze, data]));
  assertInputError(() => readNifti(analyzePath), analyzePath, /ANALYZE/);
  const pair = Buffer.from(good);
  pair.write('ni1\0', 344, 'latin1');
  const pairPath = write('pair.nii', Buffer.concat([pair, data]));
  assertInputError(() => readNifti(pairPath), pairPath, /\.hdr\/\.img pair/);
});

test('absurd sizes fail fast, before allocating', (t) => {
  const dir = tempDir(t);
  const huge = join(dir, 'huge.nii');
  writeFileSync(huge, Buffer.concat([handHeader({ version: 1, littleEndian: true, dim: [3, 30000, 30000, 30000], datatype: 4, bitpix: 16, pixdim: [1, 1, 1, 1] }), Buffer.alloc(1024 - 352)]));
  const hugeGz = join(dir, 'huge.nii.gz');
  writeFileSync(hugeGz, gzipSync(readFileSync(huge)));
  const huge2 = join(dir, 'huge2.nii');
  writeFileSync(huge2, Buffer.concat([handHeader({ version: 2, littleEndian: false, dim: [3, 2 ** 40, 2, 2], datatype: 2, bitpix: 8, pixdim: [1, 1, 1, 1] }), Buffer.alloc(100)]));
  // Just over the limit: 2^31 bytes of int16.
  const edge = join(dir, 'edge.nii.gz');
  writeFileSync(edge, gzipSync(handHeader({ version: 1, littleEndian: true, dim: [3, 1024, 1024, 1025], datatype: 4, bitpix: 16, pixdim: [1, 1, 1, 1] })));
  const started = performance.now();
  assertInputError(() => readNifti(huge), huge, /header claims 30000x30000x30000 int16 voxels .*limit/);
  assertInputError(() => readNifti(hugeGz), hugeGz, /header claims 30000x30000x30000 int16 voxels .*limit/);
  assertInputError(() => readNifti(huge2), huge2, /header claims 1099511627776x2x2 uint8 voxels/);
  assertInputError(() => readNifti(edge), edge, /limit/);
  assertInputError(() => readNiftiHeader(hugeGz), hugeGz, /limit/);
  assert.ok(performance.now() - started < 500, 'refused from the header alone');
  // A size within the limit but absent from the file is reported as a truncation.
  const claims = join(dir, 'claims.nii.gz');
  writeFileSync(claims, gzipSync(handHeader({ version: 1, littleEndian: true, dim: [3, 1024, 1024, 64], datatype: 4, bitpix: 16, pixdim: [1, 1, 1, 1] })));
  assertInputError(() => readNifti(claims), claims, /header claims 67108864 voxels .* holds only 0 bytes of data/);
});

test('readNiftiAsync (inflating on zlib\'s thread pool) reads and refuses exactly what readNifti does', async (t) => {
  const dir = tempDir(t);
  const write = (name: string, bytes: Uint8Array): string => {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    return p;
  };
  const dims: Vec3 = [5, 4, 3];
  const spacing: Vec3 = [0.9, 0.8, 2];
  const affine = affineFrom(rotation(0.1, 0.2, 0.3), spacing, true, [1.5, -2.5, 3.25]);
  for (const [name, make] of DTYPE_ARRAYS) {
    for (const ext of ['.nii', '.nii.gz']) {
      const source = sourceFromAffine(dims, spacing, affine);
      const p = join(dir, `async_${name}${ext}`);
      writeNifti(p, { data: make(), dims, spacing, affine: bestAffine(source), source });
      const sync = readNifti(p);
      const viaPool = await readNiftiAsync(p);
      assert.equal(viaPool.data.constructor, sync.data.constructor, `${name}${ext}`);
      assert.deepEqual(viaPool.data, sync.data, `${name}${ext}`);
      assert.deepEqual(viaPool.affine, sync.affine, `${name}${ext}`);
      assert.deepEqual(viaPool.dims, sync.dims, `${name}${ext}`);
    }
  }
  const header = handHeader({ version: 1, littleEndian: true, dim: [3, 4, 3, 2], datatype: 4, bitpix: 16, pixdim: [1, 1, 1, 1] });
  const full = Buffer.concat([header, voxelBytes(Array.from({ length: 24 }, (_, i) => i), 'i16', true)]);
  const gz = gzipSync(full);
  const bad: [string, RegExp][] = [
    [write('trunc.nii.gz', gz.subarray(0, gz.length - 12)), /corrupt or truncated gzip/],
    [write('short.nii.gz', gzipSync(full.subarray(0, full.length - 6))), /holds only 42 bytes of data/],
    [write('garbage.nii.gz', Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.alloc(100, 0xff)])), /corrupt/],
    // 24 voxels claimed, 65 MB more inflated: refused at the limit, not inflated to the end.
    [write('bomb.nii.gz', gzipSync(Buffer.concat([full, Buffer.alloc(65 * 1024 * 1024)]))), /decompresses to more than/],
    [write('trunc.nii', full.subarray(0, full.length - 5)), /but the file holds only 43 bytes of data/],
  ];
  for (const [file, problem] of bad) {
    assertInputError(() => readNifti(file), file, problem);
    let syncMessage = '';
    try {
      readNifti(file);
    } catch (err) {
      syncMessage = (err as Error).message;
    }
    await assert.rejects(readNiftiAsync(file), (err: unknown) => {
      assert.ok(err instanceof InputError, `expected InputError, got ${String(err)}`);
      assert.equal(err.message, syncMessage);
      return true;
    });
  }
});

test('masks: read onto a CT grid; wrong labels, shape and affine are refused', (t) => {
  const dir = tempDir(t);
  const dims: Vec3 = [6, 5, 4];
  const spacing: Vec3 = [0.8, 0.8, 2.5];
  const affine: Mat4 = [[-0.8, 0, 0, 100], [0, -0.8, 0, 120], [0, 0, 2.5, -50], [0, 0, 0, 1]];
  const ctPath = join(dir, 'ct.nii.gz');
  writeNifti(ctPath, { data: new Int16Array(120).fill(-1000), dims, spacing, affine });
  const ct = readNifti(ctPath);
  const mask = new Uint8Array(120);
  mask[7] = 1;
  mask[119] = 1;
  const ok = join(dir, 'ok_seg.nii.gz');
  writeNiftiMask(ok, mask, ct);
  assert.deepEqual(readMaskFor(ok, ct), mask);
  // A float mask holding 0.0/1.0 is accepted too.
  const floatMask = join(dir, 'float_seg.nii');
  writeNifti(floatMask, { ...ct, data: Float32Array.from(mask) });
  assert.deepEqual(readMaskFor(floatMask, ct), mask);

  const label2 = join(dir, 'label2_seg.nii.gz');
  const two = mask.slice();
  two[30] = 2;
  two[31] = 2;
  writeNiftiMask(label2, two, ct);
  assertInputError(() => readMaskFor(label2, ct), label2, /mask labels must be 0\/1, found 2 \(2 voxels not 0\/1, first at \(0, 0, 1\)\)/);
  const half = join(dir, 'half_seg.nii');
  writeNifti(half, { ...ct, data: Float32Array.from(mask, (v) => v * 0.5) });
  assertInputError(() => readMaskFor(half, ct), half, /found 0\.5/);

  const wrongShape = join(dir, 'shape_seg.nii.gz');
  writeNifti(wrongShape, { data: new Uint8Array(6 * 5 * 3), dims: [6, 5, 3], spacing, affine });
  assertInputError(() => readMaskFor(wrongShape, ct), wrongShape, /mask grid 6x5x3 differs from the CT's 6x5x4/);
  const shifted: Mat4 = affine.map((r) => [...r]) as Mat4;
  shifted[0][3] += 0.5;
  const wrongAffine = join(dir, 'affine_seg.nii.gz');
  writeNifti(wrongAffine, { data: mask, dims, spacing, affine: shifted });
  assertInputError(() => readMaskFor(wrongAffine, ct), wrongAffine, /mask affine .* differs from the CT's .*0\.5.* mm apart/);
  // Float rounding far below a micron is tolerated.
  const nudged: Mat4 = affine.map((r) => [...r]) as Mat4;
  nudged[2][3] += 2e-5;
  const tiny = join(dir, 'tiny_seg.nii');
  writeNifti(tiny, { data: mask, dims, spacing, affine: nudged });
  assert.deepEqual(readMaskFor(tiny, ct), mask);
  const missing = join(dir, 'missing_seg.nii.gz');
  assertInputError(() => readMaskFor(missing, ct), missing, /not found/);
});

test('quaternion decomposition round-trips random proper and improper rotations', () => {
  const rng = new Rng(11);
  for (let k = 0; k < 200; k++) {
    const r = rotation(rng.uniform(-Math.PI, Math.PI), rng.uniform(-Math.PI, Math.PI), rng.uniform(-Math.PI, Math.PI));
    const zooms: Vec3 = [rng.uniform(0.3, 3), rng.uniform(0.3, 3), rng.uniform(0.3, 5)];
    const a = affineFrom(r, zooms, k % 2 === 1, [rng.uniform(-500, 500), rng.uniform(-500, 500), rng.uniform(-500, 500)]);
    const q = quaternFromAffine(a);
    assert.equal(q.qfac, k % 2 === 1 ? -1 : 1);
    const src = sourceFromAffine([2, 2, 2], zooms, a);
    assert.ok(maxAbsDiff(qformAffine(src), a) < 1e-9, `rotation ${k}`);
  }
  assert.throws(() => sourceFromAffine([2, 2, 2], [1, 1, 1], [[2, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]), /spacing/);
});

test('encodeHeader keeps a NIfTI-2 source as NIfTI-2 and writes little-endian', () => {
  const src = { ...sourceFromAffine([2, 3, 4], [1, 1, 1], [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]), version: 2 as const };
  const h2 = Buffer.from(encodeHeader(src, DT_FLOAT32, 32));
  assert.equal(h2.length, 544);
  assert.equal(h2.readInt32LE(0), 540);
  assert.equal(h2.readBigInt64LE(16), 3n);
  assert.equal(h2.readBigInt64LE(24), 2n);
  assert.equal(h2.readBigInt64LE(168), 544n);
  const h1 = Buffer.from(encodeHeader({ ...src, version: 1 }, DT_INT16, 16));
  assert.equal(h1.length, 352);
  assert.equal(h1.readInt32LE(0), 348);
  assert.equal(h1.readFloatLE(108), 352);
});

// ---------------------------------------------------------------------------------------------
// Real data

/** Per the data README (the RADPHANTOM crops are "about 140-200": exact sizes as nibabel reads them). */
const REAL: [string, Vec3, Vec3, number][] = [
  ['LUNG1-001', [512, 512, 134], [0.977, 0.977, 3.0], 156.32],
  ['LIDC-0001', [512, 512, 133], [0.703, 0.703, 2.5], 6.71],
  ['LIDC-0002', [512, 512, 261], [0.682, 0.682, 1.25], 5.05],
  ['RADPHANTOM-1', [204, 201, 60], [0.977, 0.977, 3.0], 358.68],
  ['RADPHANTOM-2', [141, 138, 41], [0.977, 0.977, 3.0], 6.46],
  ['RADPHANTOM-3', [136, 137, 46], [0.977, 0.977, 3.0], 11.59],
];

test('real scans: dims, spacing, masks on their grid, tumour volumes; LUNG1-001 mask as nibabel sees it', { skip: realDataDir() === null && 'no real data' }, (t) => {
  const root = realDataDir()!;
  const dir = tempDir(t);
  for (const [id, dims, spacing, ml] of REAL) {
    const ctPath = join(root, 'train', 'volume', `${id}_vol.nii.gz`);
    const started = performance.now();
    const ct = readNifti(ctPath);
    const ms = performance.now() - started;
    t.diagnostic(`${id}: read ${ct.dims.join('x')} in ${ms.toFixed(0)} ms`);
    assert.ok(ct.data instanceof Int16Array, id);
    assert.deepEqual(ct.dims, dims, id);
    ct.spacing.forEach((s, i) => assert.ok(Math.abs(s - spacing[i]!) < 0.001, `${id} spacing ${ct.spacing}`));
    assert.equal(ct.source?.qformCode, 1);
    assert.equal(ct.source?.sformCode, 1);
    assert.ok(maxAbsDiff(qformAffine(ct.source!), ct.affine) < 1e-3, `${id}: qform and sform agree`);
    const seg = readMaskFor(join(root, 'train', 'seg', `${id}_seg.nii.gz`), ct);
    let count = 0;
    for (let i = 0; i < seg.length; i++) count += seg[i]!;
    const got = Math.round(((count * ct.spacing[0] * ct.spacing[1] * ct.spacing[2]) / 1000) * 100) / 100;
    assert.ok(Math.abs(got - ml) <= 0.011, `${id}: tumour ${got} mL, README says ${ml}`);
    if (id === 'LUNG1-001') {
      const lungs = readMaskFor(join(root, 'train', 'lungs_seg', `${id}_lungseg.nii.gz`), ct);
      assert.ok(lungs.some((v) => v === 1));
      if (hasNibabel()) {
        const out = join(dir, `${id}_mask.nii.gz`);
        writeNiftiMask(out, seg, ct);
        assert.deepEqual(readMaskFor(out, ct), seg);
        const [r] = compareWithNibabel(dir, [[ctPath, out, false]]);
        assert.deepEqual(r!.shape_b, r!.shape_a);
        assert.equal(r!.affine, 0, 'nibabel affine of our mask equals the CT\'s exactly');
        assert.deepEqual(r!.codes_b, r!.codes_a);
        assert.equal(r!.pixdim, 0);
      }
    }
  }
});
