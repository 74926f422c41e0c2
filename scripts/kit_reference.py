#!/usr/bin/python3
"""Reference values computed the way the challenge's scoring kit computes them (nibabel, numpy, cv2).

Development tool only: it produces the golden numbers in tests/golden/ that the TypeScript tests
compare against; the tests themselves never run Python. Needs Debian's python3-nibabel and
python3-opencv (run it with /usr/bin/python3).

  kit_reference.py golden --seg-dir DIR --out FILE.json
      For every mask in DIR: the kit's RECIST / volume and the true (Feret) RECIST of the mask and
      of deterministic perturbations of it (PERTURBATIONS below; tests/metrics.test.ts rebuilds the
      same masks), with the Dice of each perturbation against the original.
  kit_reference.py synthetic --count N --out FILE.json
      cv2's RECIST radius (px) and the Feret diameter of N small hash-defined 2-D masks
      (synthetic_mask below; tests/metrics.test.ts builds the same masks).
  kit_reference.py evaluate --pred DIR --truth DIR
      The kit's per-case values of a prediction folder, as JSON on stdout.

Array order is nibabel's get_fdata() order (x, y, z); slices are a[:, :, k], as in the kit.
"""
import argparse
import glob
import json
import os
import sys

import cv2
import nibabel as nib
import numpy as np


def case_id(path):
    return os.path.basename(path).split('_')[0]


def load(path):
    img = nib.load(path)
    a = img.get_fdata() != 0
    # pixdim is float32 in the header; float() keeps the kit's float64 products under numpy 2 too.
    pd = [float(v) for v in img.header['pixdim'][1:4]]
    return a, pd


def kit_recist(a, pd):
    best = 0.0
    for k in range(a.shape[2]):
        s = a[:, :, k].astype(np.uint8)
        if not s.any():
            continue
        contours, _ = cv2.findContours(s, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
        for c in contours:
            r = cv2.minEnclosingCircle(c)[1]
            if r > best:
                best = r
    return 2 * best * pd[0]


def kit_volume(a, pd):
    return round(int(a.sum()) * pd[0] * pd[1] * pd[2] / 1000, 2)


def dice(p, t):
    tp = int(np.logical_and(p, t).sum())
    fp = int(np.logical_and(p, ~t).sum())
    fn = int(np.logical_and(~p, t).sum())
    return (2 * tp + 1e-7) / (2 * tp + fp + fn + 1e-7)


def feret(a, pd):
    """Largest distance (mm) between voxel centres in one axial slice, by brute force over the hull."""
    best = 0.0
    for k in range(a.shape[2]):
        pts = np.argwhere(a[:, :, k])
        if len(pts) < 2:
            continue
        hull = cv2.convexHull(pts.astype(np.int32)).reshape(-1, 2).astype(np.float64)
        hull[:, 0] *= pd[0]
        hull[:, 1] *= pd[1]
        d = hull[:, None, :] - hull[None, :, :]
        best = max(best, float(np.sqrt((d ** 2).sum(-1)).max()))
    return best


# ---- deterministic perturbations (mirrored in tests/metrics.test.ts) ----

AXES = (0, 1, 2)


def dilate6(a):
    out = a.copy()
    for ax in AXES:
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[ax] = slice(1, None)
        hi[ax] = slice(None, -1)
        out[tuple(lo)] |= a[tuple(hi)]
        out[tuple(hi)] |= a[tuple(lo)]
    return out


def erode6(a):
    out = a.copy()
    for ax in AXES:
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[ax] = slice(1, None)
        hi[ax] = slice(None, -1)
        out[tuple(lo)] &= a[tuple(hi)]
        out[tuple(hi)] &= a[tuple(lo)]
        first = [slice(None)] * 3
        last = [slice(None)] * 3
        first[ax] = 0
        last[ax] = -1
        out[tuple(first)] = False  # outside the grid counts as background
        out[tuple(last)] = False
    return out


def shift(a, d):
    out = np.zeros_like(a)
    src = []
    dst = []
    for ax in AXES:
        n = a.shape[ax]
        s = d[ax]
        src.append(slice(max(0, -s), min(n, n - s)))
        dst.append(slice(max(0, s), min(n, n + s)))
    if all(x.start < x.stop for x in src):
        out[tuple(dst)] = a[tuple(src)]
    return out


def edge(a):
    xs, ys, _ = np.nonzero(a)
    if len(xs) == 0:
        return a.copy()
    return shift(a, (-(int(xs.min()) + 2), -(int(ys.min()) + 1), 0))


RANDOM_SEED = 0x9E3779B9


def fmix32(h):
    h = h.astype(np.uint32)
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h


def random_mask(a):
    """35% of the voxels of the mask's bounding box grown by 3 voxels, chosen by a hash of the NIfTI index."""
    out = np.zeros_like(a)
    nz = np.nonzero(a)
    if len(nz[0]) == 0:
        return out
    lo = [max(0, int(v.min()) - 3) for v in nz]
    hi = [min(a.shape[i] - 1, int(nz[i].max()) + 3) for i in AXES]
    x, y, z = np.meshgrid(*[np.arange(lo[i], hi[i] + 1, dtype=np.uint64) for i in AXES], indexing='ij')
    nx, ny = a.shape[0], a.shape[1]
    idx = (x + nx * (y + ny * z)).astype(np.uint32)
    on = fmix32(idx ^ np.uint32(RANDOM_SEED)) % np.uint32(1000) < 350
    out[lo[0]:hi[0] + 1, lo[1]:hi[1] + 1, lo[2]:hi[2] + 1] = on
    return out


PERTURBATIONS = {
    'dilate6': dilate6,
    'erode6': erode6,
    'shift': lambda a: shift(a, (3, -2, 1)),
    'edge': edge,
    'empty': np.zeros_like,
    'random': random_mask,
}


def measures(a, pd):
    return {'recist': kit_recist(a, pd), 'volume': kit_volume(a, pd), 'feret': feret(a, pd), 'voxels': int(a.sum())}


def cmd_golden(args):
    cases = []
    for path in sorted(glob.glob(os.path.join(args.seg_dir, '*.nii*'))):
        a, pd = load(path)
        entry = {'id': case_id(path), 'truth': measures(a, pd), 'perturbed': {}}
        for name, fn in PERTURBATIONS.items():
            p = fn(a)
            m = measures(p, pd)
            m['dice'] = dice(p, a)
            entry['perturbed'][name] = m
        cases.append(entry)
        print(entry['id'], file=sys.stderr)
    doc = {
        'about': 'Kit values (cv2/numpy, scripts/kit_reference.py) of the real masks and their perturbations.',
        'cases': cases,
    }
    with open(args.out, 'w') as f:
        json.dump(doc, f, indent=1)
        f.write('\n')


# ---- hash-defined synthetic slices (mirrored in tests/metrics.test.ts) ----

SYNTH_SEED = 0x2545F491
SYNTH_SPACING = (0.7, 0.9)


def fmix32_int(h):
    h &= 0xFFFFFFFF
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    h ^= h >> 16
    return h


def synthetic_mask(t):
    """Mask t as an (nx, ny) bool array; all arithmetic on integers so both languages agree."""
    def h(k):
        return fmix32_int((t * 16 + k) ^ SYNTH_SEED)
    nx = 3 + h(0) % 70
    ny = 3 + h(1) % 70
    x, y = np.meshgrid(np.arange(nx, dtype=np.int64), np.arange(ny, dtype=np.int64), indexing='ij')
    m = min(nx, ny)
    kind = t % 5
    if kind == 0:  # noise
        dens = 5 + h(2) % 50
        key = (t * 65536 + x + nx * y).astype(np.uint32)
        return fmix32(key ^ np.uint32(SYNTH_SEED)) % np.uint32(100) < dens
    if kind == 1:  # disc, integer centre
        cx, cy, r2 = h(2) % nx, h(3) % ny, h(4) % (m * m + 1)
        return (x - cx) ** 2 + (y - cy) ** 2 <= r2
    if kind == 2:  # three discs
        out = np.zeros((nx, ny), bool)
        for d in range(3):
            cx, cy, r2 = h(2 + 3 * d) % nx, h(3 + 3 * d) % ny, h(4 + 3 * d) % (m * m // 4 + 1)
            out |= (x - cx) ** 2 + (y - cy) ** 2 <= r2
        return out
    if kind == 3:  # disc, half-pixel centre
        cx, cy, r4 = h(2) % (2 * nx), h(3) % (2 * ny), h(4) % (m * m + 1)
        return (2 * x - cx) ** 2 + (2 * y - cy) ** 2 <= r4
    # rotated ellipse A·dx² + B·dy² + C·dx·dy <= D
    a, b = 1 + h(2) % 9, 1 + h(3) % 9
    c = h(4) % (2 * min(a, b) + 1) - min(a, b)
    cx, cy = h(5) % nx, h(6) % ny
    dmax = a * nx * nx // 4 + 1
    dx, dy = x - cx, y - cy
    return a * dx * dx + b * dy * dy + c * dx * dy <= h(7) % dmax


def cmd_synthetic(args):
    radii = []
    ferets = []
    for t in range(args.count):
        m = synthetic_mask(t)[:, :, None]
        radii.append(kit_recist(m, [0.5, 1.0, 1.0]))  # 2 × r × 0.5 = r, the radius in px
        ferets.append(feret(m, list(SYNTH_SPACING) + [1.0]))
    doc = {
        'about': 'cv2.minEnclosingCircle radius (px) and Feret diameter (mm, spacing 0.7 x 0.9) of the '
                 'hash-defined masks of scripts/kit_reference.py synthetic_mask(t), t = 0..count-1.',
        'count': args.count,
        'radius_px': radii,
        'feret_mm': ferets,
    }
    with open(args.out, 'w') as f:
        json.dump(doc, f)
        f.write('\n')


def cmd_evaluate(args):
    preds = {case_id(p): p for p in glob.glob(os.path.join(args.pred, '*.nii*'))}
    out = []
    for path in sorted(glob.glob(os.path.join(args.truth, '*.nii*'))):
        cid = case_id(path)
        t, tpd = load(path)
        row = {'id': cid, 'recist_true': kit_recist(t, tpd), 'volume_true': kit_volume(t, tpd), 'feret_true': feret(t, tpd)}
        if cid in preds:
            p, ppd = load(preds[cid])
            row.update(dice=dice(p, t), recist_pred=kit_recist(p, ppd), volume_pred=kit_volume(p, ppd), feret_pred=feret(p, ppd))
        out.append(row)
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write('\n')


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    g = sub.add_parser('golden')
    g.add_argument('--seg-dir', required=True)
    g.add_argument('--out', required=True)
    s = sub.add_parser('synthetic')
    s.add_argument('--count', type=int, default=500)
    s.add_argument('--out', required=True)
    e = sub.add_parser('evaluate')
    e.add_argument('--pred', required=True)
    e.add_argument('--truth', required=True)
    args = ap.parse_args()
    {'golden': cmd_golden, 'synthetic': cmd_synthetic, 'evaluate': cmd_evaluate}[args.cmd](args)


if __name__ == '__main__':
    main()
