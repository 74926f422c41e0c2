/**
 * The foreground of a mask as a sorted list of voxel indices. Tumour masks are almost all
 * background, so the measurements work from this list instead of re-reading the whole volume;
 * finding it reads a byte mask four bytes at a time.
 */

/** Indices of the non-zero voxels, ascending (the mask's own order: NIfTI, x fastest). */
export function foregroundIndices(mask: ArrayLike<number>): Uint32Array {
  const n = mask.length;
  if (n > 0xffffffff) throw new RangeError('foregroundIndices: more than 2^32 voxels');
  let out = new Uint32Array(1024);
  let len = 0;
  const push = (i: number): void => {
    if (len === out.length) {
      const grown = new Uint32Array(out.length * 2);
      grown.set(out);
      out = grown;
    }
    out[len++] = i;
  };
  const head = (4 - (mask instanceof Uint8Array ? mask.byteOffset & 3 : 0)) & 3; // bytes before a 4-byte boundary
  if (mask instanceof Uint8Array && n >= head + 4) {
    let i = 0;
    for (; i < head; i++) if (mask[i] !== 0) push(i);
    const words = new Uint32Array(mask.buffer, mask.byteOffset + head, (n - head) >>> 2);
    for (let w = 0; w < words.length; w++) {
      if (words[w] === 0) continue;
      const b = head + 4 * w;
      for (let k = b; k < b + 4; k++) if (mask[k] !== 0) push(k);
    }
    for (i = head + 4 * words.length; i < n; i++) if (mask[i] !== 0) push(i);
  } else {
    for (let i = 0; i < n; i++) if (mask[i] !== 0) push(i);
  }
  return out.slice(0, len);
}
