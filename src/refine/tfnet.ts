/**
 * Runs a refiner topology (arch.ts) with tfjs.
 *
 * tfjs's conv3d kernels are slow on wasm and cpu (0.3-0.8 GFLOP/s measured here), and on wasm
 * (tfjs 4.22) their input gradient is wrong: Conv3DBackpropInputV2 disagrees with cpu even for a
 * 1-channel 4³ cube (and the filter gradient does for stride 2). conv2d on wasm goes through XNNPACK
 * (5-30 GFLOP/s). So a 3x3x3 convolution here is one conv2d over each z-slice that produces its
 * contributions to the slices z-1, z, z+1 at once, plus a cheap dilated conv2d that adds them up with
 * the z shifts - the same sums as tf.conv3d (the tests check values and gradients against it).
 * wasm lacks Conv2DBackpropFilter and its Conv2DBackpropInput is a plain loop, and cpu's filter
 * gradient runs at ~0.02 GFLOP/s; so conv2d carries a custom gradient made of forward conv2d calls
 * only, which also lets training run on wasm. The 2x2x2 stride-2 ops and 1x1x1 convs are matrix
 * products over space-to-depth reshapes.
 */
import type { Scalar, Tensor, Tensor2D, Tensor4D, Tensor5D, Variable } from '@tensorflow/tfjs-core';
import type { NetTopology, NetOp } from './arch.js';
import { paramSpecs } from './arch.js';
import type { TfModule, TfRuntime } from './backend.js';

/** Input probabilities are clamped to [EPS, 1-EPS] before taking the logit, bounding it to about ±9.2. */
export const PROB_EPS = 1e-4;

type Conv2dFn = (x: Tensor4D, w: Tensor4D) => Tensor4D;

/**
 * An activation kept as a 2D [voxels, channels] tensor plus its grid. tfjs-wasm slices, transposes
 * and reduces rank-5 tensors element by element in JS (rank-5 slice ~100x slower than rank 4), so
 * the graph stays at rank <= 4 except for the small stride-2 reshuffles.
 */
interface Act {
  t: Tensor;
  b: number;
  z: number;
  y: number;
  x: number;
}

/** conv2d, stride 1, 'same' padding, odd square kernel, whose gradient uses only forward conv2d ops. */
function makeConv2d(tf: TfModule): Conv2dFn {
  const f = tf.customGrad((...args) => {
    const x = args[0] as Tensor4D;
    const w = args[1] as Tensor4D;
    const save = args[2] as (t: Tensor[]) => void;
    save([x, w]);
    return {
      value: tf.conv2d(x, w, 1, 'same'),
      gradFunc: (dy: Tensor, saved: Tensor[]): Tensor[] => {
        const [xs, ws] = saved as [Tensor4D, Tensor4D];
        const dy4 = dy as Tensor4D;
        const k = ws.shape[0];
        const p = (k - 1) / 2;
        // dx: correlation of dy with the spatially flipped kernel, in/out channels swapped.
        const wFlip = tf.transpose(tf.reverse(ws, [0, 1]), [0, 1, 3, 2]) as Tensor4D;
        const dx = tf.conv2d(dy4, wFlip, 1, 'same');
        // dw[i,j,c,o] = sum_{n,y,x} xpad[n,y+i,x+j,c] dy[n,y,x,o]: a 'valid' conv2d whose batch is c,
        // whose channels are n, and whose (large) kernel is dy.
        const [n, h, w, c] = xs.shape;
        const o = ws.shape[3];
        const xp = p > 0 ? tf.pad(xs, [[0, 0], [p, p], [p, p], [0, 0]]) : xs;
        const xt = tf.reshape(tf.transpose(tf.reshape(xp, [n, -1, c]), [2, 1, 0]), [c, h + 2 * p, w + 2 * p, n]) as Tensor4D;
        const dyt = tf.reshape(tf.transpose(tf.reshape(dy4, [n, h * w, o]), [1, 0, 2]), [h, w, n, o]) as Tensor4D;
        const dw = tf.transpose(tf.conv2d(xt, dyt, 1, 'valid'), [1, 2, 0, 3]);
        return [dx, dw];
      },
    };
  });
  return (x, w) => f(x, w) as Tensor4D;
}

type ShiftSumFn = (r: Tensor4D, o: number, rowsPerSlice: number) => Tensor4D;

/**
 * r: [b, z*y, x, 3o] holding, for each slice z, channel groups kd = 0, 1, 2. Returns [b, z*y, x, o]
 * with out[z] = r_0[z-1] + r_1[z] + r_2[z+1] (zero outside), via a dilated conv2d with a constant
 * 0/1 kernel; its gradient skips the (constant) kernel's.
 */
function makeShiftSum(tf: TfModule): ShiftSumFn {
  // customGrad passes only tensors, so there is one wrapped function per dilation (slice height).
  const byDilation = new Map<number, (r: Tensor, sel: Tensor) => Tensor>();
  const wrapped = (dil: number): ((r: Tensor, sel: Tensor) => Tensor) => {
    let f = byDilation.get(dil);
    if (f === undefined) {
      f = tf.customGrad((...args) => {
        const r = args[0] as Tensor4D;
        const sel = args[1] as Tensor4D;
        (args[2] as (t: Tensor[]) => void)([sel]);
        return {
          value: tf.conv2d(r, sel, 1, 'same', 'NHWC', [dil, 1]),
          gradFunc: (dy: Tensor, saved: Tensor[]): Tensor[] => {
            const s = saved[0] as Tensor4D;
            const back = tf.transpose(tf.reverse(s, [0, 1]), [0, 1, 3, 2]) as Tensor4D;
            return [tf.conv2d(dy as Tensor4D, back, 1, 'same', 'NHWC', [dil, 1]), tf.zerosLike(s)];
          },
        };
      });
      byDilation.set(dil, f);
    }
    return f;
  };
  return (r, o, rowsPerSlice) => {
    const sel = new Float32Array(3 * 3 * o * o);
    for (let k = 0; k < 3; k++) for (let j = 0; j < o; j++) sel[(k * 3 * o + k * o + j) * o + j] = 1;
    return wrapped(rowsPerSlice)(r, tf.tensor4d(sel, [3, 1, 3 * o, o])) as Tensor4D;
  };
}

/** The forward pass of a topology, given its weights as tensors (or variables) by name. */
export class TfGraph {
  private readonly tf: TfModule;
  private readonly conv2d: Conv2dFn;
  private readonly shiftSum: ShiftSumFn;

  constructor(
    rt: TfRuntime,
    private readonly topo: NetTopology,
  ) {
    this.tf = rt.tf;
    this.conv2d = makeConv2d(rt.tf);
    this.shiftSum = makeShiftSum(rt.tf);
  }

  /** x: [B, Z, Y, X, 2] channel-last input. Returns the logit correction [B, Z, Y, X, 1]. Call inside tidy. */
  delta(x: Tensor5D, weights: ReadonlyMap<string, Tensor>): Tensor5D {
    const [b, z, y, xx, c] = x.shape;
    const vals = new Map<string, Act>([['input', { t: this.tf.reshape(x, [-1, c]), b, z, y, x: xx }]]);
    for (const op of this.topo.ops) {
      const out = this.apply(op, vals, weights);
      vals.set(op.name, op.relu ? { ...out, t: this.tf.relu(out.t) } : out);
    }
    const last = vals.get(this.topo.ops[this.topo.ops.length - 1]!.name)!;
    return this.tf.reshape(last.t, [last.b, last.z, last.y, last.x, -1]);
  }

  /**
   * Refined logit [B, Z, Y, X] = logit(clamped input probability) + delta. `prob` is x's probability
   * channel again, as [B, Z, Y, X] (cheaper to pass than to slice out). Call inside tidy.
   */
  logits(x: Tensor5D, prob: Tensor4D, weights: ReadonlyMap<string, Tensor>): Tensor4D {
    const tf = this.tf;
    const p = tf.clipByValue(prob, PROB_EPS, 1 - PROB_EPS);
    const logitIn = tf.sub(tf.log(p), tf.log1p(tf.neg(p)));
    return tf.add(logitIn, tf.reshape(this.delta(x, weights), prob.shape)) as Tensor4D;
  }

  /** Mean over the batch of BCE (from logits) + soft Dice loss. target: [B, Z, Y, X] of 0/1. */
  loss(x: Tensor5D, prob: Tensor4D, target: Tensor4D, weights: ReadonlyMap<string, Tensor>): Scalar {
    const tf = this.tf;
    const b = prob.shape[0];
    const z = tf.reshape(this.logits(x, prob, weights), [b, -1]);
    const t = tf.reshape(target, [b, -1]);
    // Stable BCE with logits: max(z,0) - z t + log(1 + exp(-|z|)).
    const bce = tf.mean(tf.add(tf.sub(tf.relu(z), tf.mul(z, t)), tf.log1p(tf.exp(tf.neg(tf.abs(z))))));
    const p = tf.sigmoid(z);
    const inter = tf.sum(tf.mul(p, t), 1);
    const denom = tf.add(tf.sum(p, 1), tf.sum(t, 1));
    const dice = tf.sub(1, tf.div(tf.add(tf.mul(inter, 2), 1), tf.add(denom, 1)));
    return tf.add(bce, tf.mean(dice)) as Scalar;
  }

  private apply(op: NetOp, vals: ReadonlyMap<string, Act>, weights: ReadonlyMap<string, Tensor>): Act {
    const tf = this.tf;
    if (op.op === 'add') {
      const a = vals.get(op.inputs[0])!;
      return { ...a, t: tf.add(a.t, vals.get(op.inputs[1])!.t) };
    }
    const a = vals.get(op.input)!;
    const { b, z, y, x } = a;
    const c = op.cin;
    const o = op.cout;
    const kernel = weights.get(`${op.name}/kernel`)!;
    const bias = weights.get(`${op.name}/bias`)!;
    let out: Act;
    if (op.op === 'conv3d' && op.kernel === 3) {
      // One conv2d over each z-slice gives its contributions to outputs z-1, z, z+1 (channels (kd, o)).
      // Seen as [b, z*y, x, 3o], the same-slice neighbours in z are y rows apart, so a fixed 3x1
      // "pick tap kd" kernel with dilation y sums them, and its zero padding is exactly the z border.
      const w2 = tf.reshape(tf.transpose(kernel, [1, 2, 3, 0, 4]), [3, 3, c, 3 * o]) as Tensor4D;
      const r = this.conv2d(tf.reshape(a.t, [b * z, y, x, c]), w2);
      out = { ...a, t: tf.reshape(this.shiftSum(tf.reshape(r, [b, z * y, x, 3 * o]), o, y), [-1, o]) };
    } else if (op.op === 'conv3d') {
      out = { ...a, t: tf.matMul(a.t, tf.reshape(kernel, [c, o]) as Tensor2D) };
    } else if (op.op === 'down2') {
      // Gather each 2x2x2 block into one row, features in the kernel's (dz, dy, dx, c) order: x pairs
      // already sit together; y then z pairs are brought in by rank-4 transposes (wasm's rank-6
      // transpose is ~100x slower).
      const yPairs = tf.transpose(tf.reshape(a.t, [b * z * (y / 2), 2, x / 2, 2 * c]), [0, 2, 1, 3]);
      const zPairs = tf.transpose(tf.reshape(yPairs, [b * (z / 2), 2, (y / 2) * (x / 2), 4 * c]), [0, 2, 1, 3]);
      const cols = tf.reshape(zPairs, [-1, 8 * c]) as Tensor2D;
      out = { b, z: z / 2, y: y / 2, x: x / 2, t: tf.matMul(cols, tf.reshape(kernel, [8 * c, o]) as Tensor2D) };
    } else {
      // Each voxel emits a 2x2x2 block (features (dz, dy, dx, o)); the inverse of down2's reshuffle.
      const k2 = tf.reshape(tf.transpose(kernel, [3, 0, 1, 2, 4]), [c, 8 * o]) as Tensor2D;
      const blocks = tf.matMul(a.t, k2);
      const zOut = tf.transpose(tf.reshape(blocks, [b * z, y * x, 2, 4 * o]), [0, 2, 1, 3]);
      const yOut = tf.transpose(tf.reshape(zOut, [b * 2 * z * y, x, 2, 2 * o]), [0, 2, 1, 3]);
      out = { b, z: 2 * z, y: 2 * y, x: 2 * x, t: tf.reshape(yOut, [-1, o]) };
    }
    // Biases are added to 2D [voxels, channels]: their gradient is then a cheap column sum.
    return { ...out, t: tf.add(out.t, bias) };
  }
}

/** Weights as tfjs tensors on the current backend, from plain arrays. */
export function weightsToTensors(tf: TfModule, topo: NetTopology, params: ReadonlyMap<string, Float32Array>): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const spec of paramSpecs(topo)) out.set(spec.name, tf.tensor(params.get(spec.name)!, spec.shape, 'float32'));
  return out;
}

export function weightsToVariables(tf: TfModule, topo: NetTopology, params: ReadonlyMap<string, Float32Array>): Map<string, Variable> {
  const out = new Map<string, Variable>();
  for (const spec of paramSpecs(topo)) {
    const t = tf.tensor(params.get(spec.name)!, spec.shape, 'float32');
    out.set(spec.name, tf.variable(t, true));
    t.dispose();
  }
  return out;
}

/** Copies tensors back into plain arrays (fresh copies, independent of the backend), read asynchronously. */
export async function tensorsToParams(topo: NetTopology, weights: ReadonlyMap<string, Tensor>): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const spec of paramSpecs(topo)) out.set(spec.name, Float32Array.from((await weights.get(spec.name)!.data()) as Float32Array));
  return out;
}
