/**
 * Binary masks stored one bit per voxel: a cohort held in memory during training keeps its masks
 * at an eighth of their byte size.
 */

export interface PackedMask {
  /** Number of voxels. */
  length: number;
  /** Bit i % 8 of byte i >> 3 is voxel i (non-zero input -> 1). */
  bits: Uint8Array;
}

export function packMask(mask: ArrayLike<number>): PackedMask {
  const bits = new Uint8Array((mask.length + 7) >> 3);
  for (let i = 0; i < mask.length; i++) if (mask[i]) bits[i >> 3]! |= 1 << (i & 7);
  return { length: mask.length, bits };
}

export function unpackMask(packed: PackedMask): Uint8Array {
  const out = new Uint8Array(packed.length);
  for (let i = 0; i < packed.length; i++) out[i] = (packed.bits[i >> 3]! >> (i & 7)) & 1;
  return out;
}

/** Whether voxel i is set. */
export function maskHas(packed: PackedMask, i: number): boolean {
  return ((packed.bits[i >> 3]! >> (i & 7)) & 1) === 1;
}
