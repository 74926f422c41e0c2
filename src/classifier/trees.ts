/**
 * Tree ensembles as four flat arrays, shared by the boosted trees and the random forest: no object
 * per node, so prediction over millions of rows stays in tight typed-array loops and a model file
 * is four number lists.
 */
import { type JsonObject, ModelFormatError, numberList, objectField, shortestF32 } from './types.js';

export interface FlatTrees {
  /** Node index of each tree's root; trees lie one after another, the first at node 0. */
  roots: Int32Array;
  /** Split feature of each node; -1 marks a leaf. */
  feature: Int32Array;
  /** A split's threshold (a row goes left when x <= threshold; NaN goes right) or a leaf's value. */
  value: Float32Array;
  /** A split's left child; the right child is left + 1. 0 for leaves. */
  left: Int32Array;
}

/** Collects trees one at a time (node indices local to the tree) into one FlatTrees. */
export class FlatTreesBuilder {
  private roots: number[] = [];
  private feature: number[] = [];
  private value: number[] = [];
  private left: number[] = [];

  get treeCount(): number {
    return this.roots.length;
  }

  /** Appends a tree whose nodes are numbered from 0 (its root); values must already be float32. */
  addTree(feature: ArrayLike<number>, value: ArrayLike<number>, left: ArrayLike<number>): void {
    const base = this.feature.length;
    this.roots.push(base);
    for (let i = 0; i < feature.length; i++) {
      const f = feature[i]!;
      this.feature.push(f);
      this.value.push(value[i]!);
      this.left.push(f >= 0 ? base + left[i]! : 0);
    }
  }

  /** Keeps only the first `count` trees (early stopping). */
  truncate(count: number): void {
    if (count >= this.roots.length) return;
    const end = this.roots[count]!;
    this.roots.length = count;
    this.feature.length = end;
    this.value.length = end;
    this.left.length = end;
  }

  build(): FlatTrees {
    return {
      roots: Int32Array.from(this.roots),
      feature: Int32Array.from(this.feature),
      value: Float32Array.from(this.value),
      left: Int32Array.from(this.left),
    };
  }
}

/** Trees deeper than this keep the pointer layout; shallower ones are padded into complete trees. */
const MAX_COMPLETE_DEPTH = 10;

/**
 * FlatTrees rearranged for prediction (derived on load, never saved). A tree of depth D <= 10 is
 * padded into a complete tree in heap order (children of i at 2i+1, 2i+2; a leaf above depth D is
 * copied into every slot below it), so a row takes exactly D branch-free steps and four rows can be
 * walked side by side: mispredicted branches and the load chain of one row were what bounded the
 * plain walk. Deeper trees (e.g. the forest's) are walked through the pointer arrays.
 */
export interface CompiledTrees {
  count: number;
  /** Per tree: -1 pointer layout, 0 a single leaf, D > 0 a complete tree of depth D. */
  depth: Int32Array;
  /** Per tree: start in heapFeature/heapThreshold, or the root node for the pointer layout. */
  offset: Int32Array;
  /** Per tree: start in heapLeaf minus the tree's 2^D - 1 internal slots (a heap index maps straight to it). */
  leafOffset: Int32Array;
  heapFeature: Int32Array;
  heapThreshold: Float32Array;
  heapLeaf: Float32Array;
  flat: FlatTrees;
}

function treeDepth(t: FlatTrees, root: number): number {
  let deepest = 0;
  const stack: number[] = [root, 0];
  while (stack.length > 0) {
    const d = stack.pop()!;
    const node = stack.pop()!;
    if (t.feature[node]! < 0) deepest = Math.max(deepest, d);
    else stack.push(t.left[node]!, d + 1, t.left[node]! + 1, d + 1);
  }
  return deepest;
}

export function compileTrees(t: FlatTrees): CompiledTrees {
  const count = t.roots.length;
  const depth = new Int32Array(count);
  const offset = new Int32Array(count);
  const leafOffset = new Int32Array(count);
  let internal = 0;
  let leaves = 0;
  for (let k = 0; k < count; k++) {
    const d = treeDepth(t, t.roots[k]!);
    depth[k] = d <= MAX_COMPLETE_DEPTH ? d : -1;
    if (d > 0 && d <= MAX_COMPLETE_DEPTH) {
      internal += (1 << d) - 1;
      leaves += 1 << d;
    }
  }
  const heapFeature = new Int32Array(internal);
  const heapThreshold = new Float32Array(internal);
  const heapLeaf = new Float32Array(leaves);
  let io = 0;
  let lo = 0;
  for (let k = 0; k < count; k++) {
    const D = depth[k]!;
    if (D <= 0) {
      offset[k] = t.roots[k]!;
      continue;
    }
    const inner = (1 << D) - 1;
    offset[k] = io;
    leafOffset[k] = lo - inner;
    // (node, heap slot, depth) triples; padding slots keep feature 0 / threshold 0, harmless as both sides agree.
    const stack: number[] = [t.roots[k]!, 0, 0];
    while (stack.length > 0) {
      const d = stack.pop()!;
      const slot = stack.pop()!;
      const node = stack.pop()!;
      if (d === D) {
        heapLeaf[lo + slot - inner] = t.value[node]!;
      } else if (t.feature[node]! >= 0) {
        heapFeature[io + slot] = t.feature[node]!;
        heapThreshold[io + slot] = t.value[node]!;
        stack.push(t.left[node]!, 2 * slot + 1, d + 1, t.left[node]! + 1, 2 * slot + 2, d + 1);
      } else {
        stack.push(node, 2 * slot + 1, d + 1, node, 2 * slot + 2, d + 1);
      }
    }
    io += inner;
    lo += 1 << D;
  }
  return { count, depth, offset, leafOffset, heapFeature, heapThreshold, heapLeaf, flat: t };
}

// Rows are taken in blocks so that a block's features stay in cache while every tree walks them;
// a row's sum still adds trees in order, so results do not depend on the block size or layout.
const BLOCK = 256;

/**
 * Adds the leaf values of all trees to acc[i] for each row i of `rows` (row-major, F floats a row;
 * acc.length rows). A row goes left when x <= threshold; NaN goes right.
 */
export function accumulateTrees(c: CompiledTrees, rows: Float32Array, F: number, acc: Float64Array): void {
  const { depth, offset, leafOffset, heapFeature: hf, heapThreshold: ht, heapLeaf: hl } = c;
  const { feature, value, left } = c.flat;
  const n = acc.length;
  for (let b0 = 0; b0 < n; b0 += BLOCK) {
    const b1 = Math.min(n, b0 + BLOCK);
    for (let k = 0; k < c.count; k++) {
      const D = depth[k]!;
      const o = offset[k]!;
      if (D === 0) {
        const v = value[o]!;
        for (let i = b0; i < b1; i++) acc[i] += v;
      } else if (D > 0) {
        const lo = leafOffset[k]!;
        let i = b0;
        for (; i + 4 <= b1; i += 4) {
          const ra = i * F;
          const rb = ra + F;
          const rc = rb + F;
          const rd = rc + F;
          let a = 0;
          let b = 0;
          let cc = 0;
          let d = 0;
          // 2s+2 - (x <= t): left child 2s+1 when x <= t, else the right one (NaN included).
          for (let s = 0; s < D; s++) {
            a = 2 * a + 2 - +(rows[ra + hf[o + a]!]! <= ht[o + a]!);
            b = 2 * b + 2 - +(rows[rb + hf[o + b]!]! <= ht[o + b]!);
            cc = 2 * cc + 2 - +(rows[rc + hf[o + cc]!]! <= ht[o + cc]!);
            d = 2 * d + 2 - +(rows[rd + hf[o + d]!]! <= ht[o + d]!);
          }
          acc[i] += hl[lo + a]!;
          acc[i + 1] += hl[lo + b]!;
          acc[i + 2] += hl[lo + cc]!;
          acc[i + 3] += hl[lo + d]!;
        }
        for (; i < b1; i++) {
          const r = i * F;
          let a = 0;
          for (let s = 0; s < D; s++) a = 2 * a + 2 - +(rows[r + hf[o + a]!]! <= ht[o + a]!);
          acc[i] += hl[lo + a]!;
        }
      } else {
        for (let i = b0, r = b0 * F; i < b1; i++, r += F) {
          let node = o;
          let f = feature[node]!;
          while (f >= 0) {
            node = left[node]! + 1 - +(rows[r + f]! <= value[node]!);
            f = feature[node]!;
          }
          acc[i] += value[node]!;
        }
      }
    }
  }
}

export function treesToJson(t: FlatTrees): JsonObject {
  return {
    roots: Array.from(t.roots),
    feature: Array.from(t.feature),
    left: Array.from(t.left),
    value: Array.from(t.value, shortestF32),
  };
}

/**
 * Reads trees back from a model file, checking every index so that prediction can neither read
 * out of bounds nor loop: each child lies after its parent and inside its own tree.
 */
export function treesFromJson(obj: JsonObject, F: number, what: string): FlatTrees {
  const t = objectField(obj, 'trees', what);
  const roots = numberList(t, 'roots', what, true);
  const feature = numberList(t, 'feature', what, true);
  const left = numberList(t, 'left', what, true);
  const value = numberList(t, 'value', what);
  const N = feature.length;
  if (left.length !== N || value.length !== N) {
    throw new ModelFormatError(what, `trees: feature/left/value lengths differ (${N}, ${left.length}, ${value.length})`);
  }
  if (roots.length === 0 ? N !== 0 : roots[0] !== 0) throw new ModelFormatError(what, 'trees: the first tree must start at node 0');
  for (let k = 0; k < roots.length; k++) {
    const start = roots[k]!;
    const end = k + 1 < roots.length ? roots[k + 1]! : N;
    if (!(end > start)) throw new ModelFormatError(what, `trees: tree ${k} is empty or out of order`);
    if (end > N) throw new ModelFormatError(what, `trees: tree ${k} ends past the last node`);
    for (let i = start; i < end; i++) {
      const f = feature[i]!;
      if (f === -1) continue;
      if (f < 0 || f >= F) throw new ModelFormatError(what, `trees: node ${i} splits on feature ${f} of ${F}`);
      const l = left[i]!;
      if (l <= i || l + 1 >= end) throw new ModelFormatError(what, `trees: node ${i} has children outside its tree`);
    }
  }
  const out: FlatTrees = {
    roots: Int32Array.from(roots),
    feature: Int32Array.from(feature),
    left: Int32Array.from(left),
    value: Float32Array.from(value),
  };
  for (let i = 0; i < N; i++) {
    if (!Number.isFinite(out.value[i]!)) throw new ModelFormatError(what, `trees: value ${i} is outside float32 range`);
  }
  return out;
}

/** Numbers of split and leaf nodes (for reports). */
export function countNodes(t: FlatTrees): { splits: number; leaves: number } {
  let splits = 0;
  for (let i = 0; i < t.feature.length; i++) if (t.feature[i]! >= 0) splits++;
  return { splits, leaves: t.feature.length - splits };
}
