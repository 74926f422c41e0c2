/**
 * Messages between the web page and its segmentation worker (a Web Worker running the same core
 * as `lungtumor predict`). Typed arrays travel as transferables.
 */
import type { Vec3 } from '../core/volume.js';
import type { PredictStage, ScanResult } from '../pipeline/predict.js';
import type { PlaneImage } from './view.js';

export type ToWorker =
  /** The model folder's files, by name (model.json, plans.json, …). */
  | { kind: 'load'; files: Record<string, Uint8Array> }
  /** A scan as the user gave it (.nii or .nii.gz bytes) and its file name. */
  | { kind: 'segment'; name: string; bytes: Uint8Array }
  /**
   * A folder holding one DICOM CT series (uncompressed), as `predict --input FOLDER` takes it:
   * every file with its path from the folder's name down ('LUNG1-001/ct/1-001.dcm').
   */
  | { kind: 'segment-dicom'; root: string; files: DroppedFile[] };

export interface DroppedFile {
  path: string;
  bytes: Uint8Array;
}

/** segmentScan's result without the mask (the page gets its file instead), plus what the page shows. */
export interface SegmentResult extends Omit<ScanResult, 'mask'> {
  id: string;
  /** `<ID>_seg.nii.gz`, and its bytes: what `lungtumor predict` writes for this scan. */
  maskName: string;
  maskBytes: Uint8Array;
  dims: Vec3;
  spacingMm: Vec3;
  volumeMl: number;
  recistMm: number;
  planes: PlaneImage[];
}

export type FromWorker =
  | { kind: 'ready'; backend: string; log: string[] }
  | { kind: 'stage'; stage: 'read' | PredictStage | 'write'; seconds: number }
  | { kind: 'done'; result: SegmentResult }
  /** One line naming the file and the problem (InputError), or what went wrong. */
  | { kind: 'error'; message: string };

/** What the page shows for each stage the worker reports, in order. */
export const STAGE_LABELS: Readonly<Record<'read' | PredictStage | 'write', string>> = {
  read: 'read the scan',
  resample: 'reorient and resample',
  lungs: 'find the lungs',
  features: 'voxel features',
  voxelClassifier: 'voxel classifier',
  candidates: 'candidates',
  refiner: 'refiner',
  cleanup: 'clean-up',
  write: 'write the mask',
};
