/**
 * The one image type of lungtumor.
 *
 * Voxel order in `data` is NIfTI's: x varies fastest, then y, then z
 * (index = x + nx * (y + ny * z)). `affine` maps voxel indices (i, j, k, 1) to
 * NIfTI world coordinates in mm (RAS+), row-major 4x4.
 */
export type Vec3 = [number, number, number];
export type Mat4 = [
  [number, number, number, number],
  [number, number, number, number],
  [number, number, number, number],
  [number, number, number, number],
];

export type VoxelArray =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Float32Array
  | Float64Array;

/** Header fields of the file a volume was read from, kept so outputs can be written on exactly the same grid. */
export interface NiftiSource {
  /** Path of the file the volume came from (for error messages). */
  path: string;
  /** 1 for NIfTI-1 (348-byte header), 2 for NIfTI-2 (540-byte header). */
  version: 1 | 2;
  littleEndian: boolean;
  /** dim[0..7] as stored. */
  dim: number[];
  /** pixdim[0..7] as stored (pixdim[0] is qfac). */
  pixdim: number[];
  qformCode: number;
  sformCode: number;
  quaternB: number;
  quaternC: number;
  quaternD: number;
  qoffsetX: number;
  qoffsetY: number;
  qoffsetZ: number;
  /** srow_x, srow_y, srow_z. */
  srow: [number[], number[], number[]];
  xyztUnits: number;
  description: string;
}

export interface Volume<T extends VoxelArray = VoxelArray> {
  /**
   * The voxels. May be a view into a larger ArrayBuffer (readNifti views the decompressed file
   * rather than copying it): use data.byteOffset/byteLength whenever touching data.buffer.
   */
  data: T;
  /** Voxel counts along x, y, z. */
  dims: Vec3;
  /** Voxel size in mm along x, y, z (as in pixdim[1..3]). */
  spacing: Vec3;
  affine: Mat4;
  /** Present when the volume was read from a file. */
  source?: NiftiSource;
}

export function voxelCount(dims: Vec3): number {
  return dims[0] * dims[1] * dims[2];
}

export function identityAffine(spacing: Vec3 = [1, 1, 1]): Mat4 {
  return [
    [spacing[0], 0, 0, 0],
    [0, spacing[1], 0, 0],
    [0, 0, spacing[2], 0],
    [0, 0, 0, 1],
  ];
}

/** A volume on the same grid as `like`, holding `data`. */
export function sameGrid<T extends VoxelArray>(like: Volume, data: T): Volume<T> {
  if (data.length !== voxelCount(like.dims)) {
    throw new Error(`sameGrid: ${data.length} voxels for a ${like.dims.join('x')} grid`);
  }
  const out: Volume<T> = {
    data,
    dims: [...like.dims] as Vec3,
    spacing: [...like.spacing] as Vec3,
    affine: like.affine.map((r) => [...r]) as Mat4,
  };
  if (like.source) out.source = like.source;
  return out;
}
