/**
 * DICOM out: a predicted tumour mask as a DICOM-SEG (binary, one segment) and as an RTSTRUCT (one
 * ROI of closed planar contours), both referencing the CT series it was predicted on and carrying
 * its patient and study. dcmjs encodes the datasets; what goes in them is ours.
 *
 * The mask is on the series' grid (DicomSource order): voxel (x, y, z) is column x, row y of the
 * z-th slice along the normal.
 */
import { randomUUID } from 'node:crypto';
import dcmjs from 'dcmjs';
import type { Vec3 } from '../core/volume.js';
import type { DicomSource } from './dicom.js';

const SEG_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.66.4';
const RTSTRUCT_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.481.3';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
/** The UID root of UUID-derived UIDs (ITU-T X.667). */
const newUid = (): string => `2.25.${BigInt(`0x${randomUUID().replace(/-/g, '')}`).toString()}`;

export interface SoftwareInfo {
  name: string;
  version: string;
}

function dateTime(now: Date): { date: string; time: string } {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return {
    date: `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}`,
    time: `${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`,
  };
}

/** Attributes every derived object shares: patient, study, frame of reference, equipment, its own series. */
function common(source: DicomSource, sw: SoftwareInfo, sopClass: string, modality: string, description: string, now: Date): Record<string, unknown> {
  const { date, time } = dateTime(now);
  return {
    ...source.attributes,
    SOPClassUID: sopClass,
    SOPInstanceUID: newUid(),
    StudyInstanceUID: source.studyUid,
    SeriesInstanceUID: newUid(),
    FrameOfReferenceUID: source.frameOfReferenceUid,
    Modality: modality,
    SeriesNumber: '901',
    InstanceNumber: '1',
    SeriesDescription: description,
    Manufacturer: sw.name,
    ManufacturerModelName: sw.name,
    DeviceSerialNumber: '1',
    SoftwareVersions: sw.version,
    SeriesDate: date,
    SeriesTime: time,
    ContentDate: date,
    ContentTime: time,
    InstanceCreationDate: date,
    InstanceCreationTime: time,
  };
}

function encode(dataset: Record<string, unknown>): Uint8Array {
  const { DicomDict, DicomMetaDictionary } = dcmjs.data;
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: dataset.SOPClassUID,
    MediaStorageSOPInstanceUID: dataset.SOPInstanceUID,
    TransferSyntaxUID: EXPLICIT_LE,
    ImplementationClassUID: '2.25.229451600072090404564544894284998027172',
    ImplementationVersionName: 'lungtumor',
  };
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
  return new Uint8Array(dict.write());
}

const sourceImage = (s: DicomSource['slices'][number]): Record<string, unknown> => ({ ReferencedSOPClassUID: s.sopClassUid, ReferencedSOPInstanceUID: s.sopInstanceUid });

/** Slices (z) that hold any of the mask. */
function occupiedSlices(mask: Uint8Array, plane: number, nz: number): number[] {
  const out: number[] = [];
  for (let z = 0; z < nz; z++) {
    for (let i = z * plane; i < (z + 1) * plane; i++) {
      if (mask[i]) {
        out.push(z);
        break;
      }
    }
  }
  return out;
}

/**
 * The DICOM-SEG of a mask: BINARY, one segment ('Tumour', SCT Neoplasm), one frame per slice
 * holding any of it (the first slice when the mask is empty: a SEG needs a frame), each frame
 * referencing its source image and giving its position.
 */
export function dicomSegOf(mask: Uint8Array, dims: Vec3, source: DicomSource, sw: SoftwareInfo, now = new Date()): Uint8Array {
  const [nx, ny, nz] = dims;
  const plane = nx * ny;
  if (mask.length !== plane * nz || source.slices.length !== nz) throw new Error(`dicomSegOf: a ${dims.join('x')} mask for a series of ${source.slices.length} slices`);
  let frames = occupiedSlices(mask, plane, nz);
  if (frames.length === 0) frames = [0];
  // Frames one after another, bit by bit, least significant bit first (PS3.5 8.1.1).
  const bytes = Math.ceil((frames.length * plane) / 8);
  const bits = new Uint8Array(bytes + (bytes % 2)); // values have even length
  frames.forEach((z, f) => {
    const base = f * plane;
    for (let i = 0; i < plane; i++) if (mask[z * plane + i]) bits[(base + i) >> 3]! |= 1 << ((base + i) & 7);
  });
  const dimensionOrganizationUid = newUid();
  const dataset: Record<string, unknown> = {
    ...common(source, sw, SEG_SOP_CLASS, 'SEG', `${sw.name} tumour`, now),
    ImageType: ['DERIVED', 'PRIMARY'],
    ContentLabel: 'TUMOUR',
    ContentDescription: `Primary lung tumour found by ${sw.name}`,
    ContentCreatorName: sw.name,
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: ny,
    Columns: nx,
    BitsAllocated: 1,
    BitsStored: 1,
    HighBit: 0,
    PixelRepresentation: 0,
    LossyImageCompression: '00',
    SegmentationType: 'BINARY',
    NumberOfFrames: String(frames.length),
    DimensionOrganizationSequence: [{ DimensionOrganizationUID: dimensionOrganizationUid }],
    DimensionIndexSequence: [
      { DimensionOrganizationUID: dimensionOrganizationUid, DimensionIndexPointer: 0x0062000b, FunctionalGroupPointer: 0x0062000a, DimensionDescriptionLabel: 'ReferencedSegmentNumber' },
      { DimensionOrganizationUID: dimensionOrganizationUid, DimensionIndexPointer: 0x00200032, FunctionalGroupPointer: 0x00209113, DimensionDescriptionLabel: 'ImagePositionPatient' },
    ],
    SegmentSequence: [{
      SegmentNumber: 1,
      SegmentLabel: 'Tumour',
      SegmentDescription: 'Primary lung tumour',
      SegmentAlgorithmType: 'AUTOMATIC',
      SegmentAlgorithmName: sw.name,
      SegmentedPropertyCategoryCodeSequence: [{ CodeValue: '49755003', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Morphologically Abnormal Structure' }],
      SegmentedPropertyTypeCodeSequence: [{ CodeValue: '108369006', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Neoplasm' }],
      AnatomicRegionSequence: [{ CodeValue: '39607008', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Lung' }],
    }],
    SharedFunctionalGroupsSequence: [{
      PlaneOrientationSequence: [{ ImageOrientationPatient: source.orientation.map(String) }],
      PixelMeasuresSequence: [{ PixelSpacing: source.pixelSpacing.map(String), SliceThickness: String(source.sliceSpacingMm), SpacingBetweenSlices: String(source.sliceSpacingMm) }],
    }],
    PerFrameFunctionalGroupsSequence: frames.map((z, f) => ({
      FrameContentSequence: [{ DimensionIndexValues: [1, f + 1] }],
      PlanePositionSequence: [{ ImagePositionPatient: source.slices[z]!.positionLps.map(String) }],
      SegmentIdentificationSequence: [{ ReferencedSegmentNumber: 1 }],
      DerivationImageSequence: [{
        SourceImageSequence: [{ ...sourceImage(source.slices[z]!), PurposeOfReferenceCodeSequence: [{ CodeValue: '121322', CodingSchemeDesignator: 'DCM', CodeMeaning: 'Source image for image processing operation' }] }],
        DerivationCodeSequence: [{ CodeValue: '113076', CodingSchemeDesignator: 'DCM', CodeMeaning: 'Segmentation' }],
      }],
    })),
    ReferencedSeriesSequence: [{ SeriesInstanceUID: source.seriesUid, ReferencedInstanceSequence: source.slices.map(sourceImage) }],
    PixelData: bits.buffer,
    _vrMap: { PixelData: 'OB' },
  };
  return encode(dataset);
}

/**
 * Closed loops around the mask's pixels in one slice, as corner coordinates (x, y each at a pixel
 * edge, i.e. half-way between pixel centres). Together (even-odd, or XOR-ed loop by loop) they
 * enclose exactly the mask's pixel centres: every loop runs along pixel edges, so no centre lies on
 * one, and the edges of all loops are the boundary of the mask. Straight runs are one segment.
 */
export function sliceContours(mask: Uint8Array, nx: number, ny: number, offset = 0): number[][] {
  const on = (x: number, y: number): boolean => x >= 0 && y >= 0 && x < nx && y < ny && mask[offset + x + nx * y] === 1;
  // Corner (a, b) = pixel corner at (a - 0.5, b - 0.5); id = a + (nx + 1) * b. Edges keep the mask on their left.
  const W = nx + 1;
  const out = new Map<number, number[]>();
  const add = (from: number, to: number): void => {
    const list = out.get(from);
    if (list) list.push(to);
    else out.set(from, [to]);
  };
  for (let y = 0; y < ny; y++) {
    for (let x = 0; x < nx; x++) {
      if (!on(x, y)) continue;
      const c00 = x + W * y, c10 = c00 + 1, c01 = c00 + W, c11 = c01 + 1;
      if (!on(x, y - 1)) add(c10, c00);
      if (!on(x - 1, y)) add(c00, c01);
      if (!on(x, y + 1)) add(c01, c11);
      if (!on(x + 1, y)) add(c11, c10);
    }
  }
  const loops: number[][] = [];
  for (const start of [...out.keys()].sort((a, b) => a - b)) {
    while ((out.get(start)?.length ?? 0) > 0) {
      const corners: number[] = [];
      let at = start;
      do {
        corners.push(at);
        const next = out.get(at)!;
        const to = next.pop()!;
        if (next.length === 0) out.delete(at);
        at = to;
      } while (at !== start);
      // Keep the corners where the direction turns.
      const pts: number[] = [];
      const n = corners.length;
      for (let k = 0; k < n; k++) {
        const p = corners[(k + n - 1) % n]!, c = corners[k]!, q = corners[(k + 1) % n]!;
        const d1 = [c % W - (p % W), Math.floor(c / W) - Math.floor(p / W)];
        const d2 = [q % W - (c % W), Math.floor(q / W) - Math.floor(c / W)];
        if (d1[0] !== d2[0] || d1[1] !== d2[1]) pts.push((c % W) - 0.5, Math.floor(c / W) - 0.5);
      }
      loops.push(pts);
    }
  }
  return loops;
}

/**
 * The RTSTRUCT of a mask: one ROI ('GTV lungtumor', interpreted type GTV) whose contours are
 * sliceContours of every slice, in patient coordinates, each referencing its slice's image.
 */
export function rtStructOf(mask: Uint8Array, dims: Vec3, source: DicomSource, sw: SoftwareInfo, now = new Date()): Uint8Array {
  const [nx, ny, nz] = dims;
  const plane = nx * ny;
  if (mask.length !== plane * nz || source.slices.length !== nz) throw new Error(`rtStructOf: a ${dims.join('x')} mask for a series of ${source.slices.length} slices`);
  const [rx, ry, rz, cx, cy, cz] = source.orientation as [number, number, number, number, number, number];
  const [rowMm, colMm] = source.pixelSpacing;
  const contours: Record<string, unknown>[] = [];
  for (const z of occupiedSlices(mask, plane, nz)) {
    const s = source.slices[z]!;
    for (const loop of sliceContours(mask, nx, ny, z * plane)) {
      const data: string[] = [];
      for (let k = 0; k < loop.length; k += 2) {
        const i = loop[k]!, j = loop[k + 1]!;
        // PS3.3 C.7.6.2.1.1: P = S + i * Δcol * rowDirection + j * Δrow * columnDirection.
        for (const v of [s.positionLps[0] + i * colMm * rx + j * rowMm * cx, s.positionLps[1] + i * colMm * ry + j * rowMm * cy, s.positionLps[2] + i * colMm * rz + j * rowMm * cz]) {
          data.push(String(Math.round(v * 1e4) / 1e4));
        }
      }
      contours.push({
        ContourImageSequence: [sourceImage(s)],
        ContourGeometricType: 'CLOSED_PLANAR',
        NumberOfContourPoints: String(loop.length / 2),
        ContourData: data,
      });
    }
  }
  const base = common(source, sw, RTSTRUCT_SOP_CLASS, 'RTSTRUCT', `${sw.name} tumour`, now);
  const dataset: Record<string, unknown> = {
    ...base,
    StructureSetLabel: sw.name,
    StructureSetName: 'Tumour',
    StructureSetDate: base.ContentDate,
    StructureSetTime: base.ContentTime,
    ReferencedFrameOfReferenceSequence: [{
      FrameOfReferenceUID: source.frameOfReferenceUid,
      RTReferencedStudySequence: [{
        ReferencedSOPClassUID: '1.2.840.10008.3.1.2.3.1',
        ReferencedSOPInstanceUID: source.studyUid,
        RTReferencedSeriesSequence: [{ SeriesInstanceUID: source.seriesUid, ContourImageSequence: source.slices.map(sourceImage) }],
      }],
    }],
    StructureSetROISequence: [{ ROINumber: '1', ReferencedFrameOfReferenceUID: source.frameOfReferenceUid, ROIName: `GTV ${sw.name}`, ROIGenerationAlgorithm: 'AUTOMATIC' }],
    ROIContourSequence: [{ ROIDisplayColor: ['255', '0', '0'], ReferencedROINumber: '1', ContourSequence: contours }],
    RTROIObservationsSequence: [{ ObservationNumber: '1', ReferencedROINumber: '1', RTROIInterpretedType: 'GTV', ROIInterpreter: '' }],
  };
  return encode(dataset);
}
