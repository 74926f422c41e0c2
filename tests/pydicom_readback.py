"""Reads lungtumor's DICOM-SEG and RTSTRUCT back with pydicom, independently of lungtumor's code.

usage: python3 pydicom_readback.py CT_FOLDER SEG.dcm RTSTRUCT.dcm OUT_PREFIX
Writes OUT_PREFIX.seg.bin and OUT_PREFIX.rtstruct.bin: uint8 masks on the CT series' grid, x (column)
fastest, then y (row), then z (slices sorted along the normal), and OUT_PREFIX.json with what was checked.
"""
import json, os, sys
import numpy as np
import pydicom

ct_dir, seg_path, rt_path, out = sys.argv[1:5]
slices = [pydicom.dcmread(os.path.join(ct_dir, f)) for f in sorted(os.listdir(ct_dir))]
iop = np.array(slices[0].ImageOrientationPatient, dtype=float)
row_dir, col_dir = iop[:3], iop[3:]
normal = np.cross(row_dir, col_dir)
slices.sort(key=lambda s: float(np.dot(np.array(s.ImagePositionPatient, dtype=float), normal)))
z_of = {s.SOPInstanceUID: z for z, s in enumerate(slices)}
rows, cols, nz = int(slices[0].Rows), int(slices[0].Columns), len(slices)
ps = [float(v) for v in slices[0].PixelSpacing]  # row spacing, column spacing

seg = pydicom.dcmread(seg_path)
assert seg.Modality == 'SEG' and seg.SegmentationType == 'BINARY', 'not a binary SEG'
assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == slices[0].SeriesInstanceUID, 'SEG references another series'
frames = seg.pixel_array.reshape(int(seg.NumberOfFrames), rows, cols)
seg_mask = np.zeros((nz, rows, cols), dtype=np.uint8)
for f, fg in enumerate(seg.PerFrameFunctionalGroupsSequence):
    uid = fg.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
    z = z_of[uid]
    pos = np.array(fg.PlanePositionSequence[0].ImagePositionPatient, dtype=float)
    assert np.allclose(pos, np.array(slices[z].ImagePositionPatient, dtype=float), atol=1e-3), 'frame position is not its image\'s'
    seg_mask[z] = frames[f]
seg_mask.tofile(out + '.seg.bin')

rt = pydicom.dcmread(rt_path)
assert rt.Modality == 'RTSTRUCT'
refs = rt.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0].RTReferencedSeriesSequence[0]
assert refs.SeriesInstanceUID == slices[0].SeriesInstanceUID, 'RTSTRUCT references another series'
rt_mask = np.zeros((nz, rows, cols), dtype=np.uint8)
jj, ii = np.mgrid[0:rows, 0:cols]
contours = 0
for c in rt.ROIContourSequence[0].ContourSequence:
    assert c.ContourGeometricType == 'CLOSED_PLANAR'
    z = z_of[c.ContourImageSequence[0].ReferencedSOPInstanceUID]
    origin = np.array(slices[z].ImagePositionPatient, dtype=float)
    pts = np.array(c.ContourData, dtype=float).reshape(-1, 3) - origin
    assert np.all(np.abs(pts @ normal) < 1e-3), 'a contour off its image plane'
    x = pts @ row_dir / ps[1]
    y = pts @ col_dir / ps[0]
    inside = np.zeros((rows, cols), dtype=bool)
    for k in range(len(x)):
        x0, y0, x1, y1 = x[k - 1], y[k - 1], x[k], y[k]
        if y0 == y1:
            continue
        crosses = ((y1 > jj) != (y0 > jj)) & (ii < (x0 - x1) * (jj - y1) / (y0 - y1) + x1)
        inside ^= crosses
    rt_mask[z] ^= inside.astype(np.uint8)
    contours += 1
rt_mask.tofile(out + '.rtstruct.bin')
json.dump({'frames': int(seg.NumberOfFrames), 'contours': contours, 'patient': str(seg.PatientID), 'study': seg.StudyInstanceUID == slices[0].StudyInstanceUID,
           'software': str(seg.SoftwareVersions)}, open(out + '.json', 'w'))
