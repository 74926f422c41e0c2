/**
 * The refiner's network, described as data: a short list of operations over named tensors.
 *
 * The description (and the weights keyed by `<op name>/kernel`, `<op name>/bias`) is independent of
 * any tensor library, so another engine can run a saved refiner; the tfjs engine in `tfnet.ts` is one
 * implementation. Every operation is a standard 3D convolution (or an add), with kernels laid out as
 * tf.conv3d filters: [kd, kh, kw, in, out] (d = z, h = y, w = x).
 *
 * Tensors are channel-last [batch, z, y, x, channel]; the input has 2 channels (CT, classifier
 * probability) and the network's output is one channel of logit corrections (see `refiner.ts`).
 */
import type { Rng } from '../core/random.js';

/** 3D convolution, stride 1, 'same' zero padding; kernel 1 or 3. */
export interface Conv3dOp {
  op: 'conv3d';
  name: string;
  input: string;
  kernel: 1 | 3;
  cin: number;
  cout: number;
  relu: boolean;
  /** Zero-initialised kernel (the last layer), so a fresh net changes nothing. */
  zeroInit?: boolean;
}

/** 2x2x2 convolution with stride 2 ('valid'): halves each spatial size. */
export interface Down2Op {
  op: 'down2';
  name: string;
  input: string;
  cin: number;
  cout: number;
  relu: boolean;
}

/**
 * 2x2x2 transposed convolution with stride 2: doubles each spatial size. Kernel [2,2,2,cin,cout]:
 * out[2z+a, 2y+b, 2x+c, o] = bias[o] + sum_i in[z, y, x, i] * K[a, b, c, i, o].
 * (tf.conv3dTranspose takes the same numbers as a [2,2,2,cout,cin] filter.)
 */
export interface Up2Op {
  op: 'up2';
  name: string;
  input: string;
  cin: number;
  cout: number;
  relu: boolean;
}

/** Element-wise sum of two tensors of equal shape (a skip connection). */
export interface AddOp {
  op: 'add';
  name: string;
  inputs: [string, string];
  relu: boolean;
}

export type NetOp = Conv3dOp | Down2Op | Up2Op | AddOp;

/** The operation names a saved refiner may use; anything else is rejected on load. */
export const ALLOWED_OPS: readonly NetOp['op'][] = ['conv3d', 'down2', 'up2', 'add'];

export interface NetTopology {
  /** Name of the description format; bumped on incompatible change. */
  format: 'lungtumor-refiner-net/1';
  /** Channels of the input tensor (named 'input'). */
  inChannels: number;
  /** Operations in execution order; each reads only 'input' or earlier outputs. The last one is the output. */
  ops: NetOp[];
}

export interface ParamSpec {
  name: string;
  shape: number[];
  /** How to initialise: He-normal with this fan-in, or zeros. */
  init: { kind: 'he'; fanIn: number } | { kind: 'zeros' };
}

export interface ArchOptions {
  /** Base channel width (full resolution); the half-resolution level uses twice as many. */
  width: number;
}

/**
 * The default net: a one-level U-Net.
 * full res: conv3 2->w, conv3 w->w (skip) ; half res: down 2w, conv3 2w, conv3 2w ; up w + skip ;
 * conv3 w->w ; conv1 w->1 (zero-initialised).
 */
export function buildTopology(opts: ArchOptions): NetTopology {
  const w = opts.width;
  if (!Number.isInteger(w) || w < 1 || w > 64) throw new Error(`refiner width must be an integer in 1..64, got ${w}`);
  const w2 = 2 * w;
  return {
    format: 'lungtumor-refiner-net/1',
    inChannels: 2,
    ops: [
      { op: 'conv3d', name: 'enc1', input: 'input', kernel: 3, cin: 2, cout: w, relu: true },
      { op: 'conv3d', name: 'enc2', input: 'enc1', kernel: 3, cin: w, cout: w, relu: true },
      { op: 'down2', name: 'down', input: 'enc2', cin: w, cout: w2, relu: true },
      { op: 'conv3d', name: 'mid1', input: 'down', kernel: 3, cin: w2, cout: w2, relu: true },
      { op: 'conv3d', name: 'mid2', input: 'mid1', kernel: 3, cin: w2, cout: w2, relu: true },
      { op: 'up2', name: 'up', input: 'mid2', cin: w2, cout: w, relu: false },
      { op: 'add', name: 'skip', inputs: ['up', 'enc2'], relu: true },
      { op: 'conv3d', name: 'dec1', input: 'skip', kernel: 3, cin: w, cout: w, relu: true },
      { op: 'conv3d', name: 'head', input: 'dec1', kernel: 1, cin: w, cout: 1, relu: false, zeroInit: true },
    ],
  };
}

/** Weight tensors of a topology, in a fixed order (the order of the weights file). */
export function paramSpecs(topo: NetTopology): ParamSpec[] {
  const out: ParamSpec[] = [];
  for (const op of topo.ops) {
    if (op.op === 'add') continue;
    const k = op.op === 'conv3d' ? op.kernel : 2;
    const zero = op.op === 'conv3d' && op.zeroInit === true;
    // A stride-2 transposed conv sends each input voxel to 8 outputs with distinct taps, so each output sees cin inputs.
    const fanIn = op.op === 'up2' ? op.cin : k * k * k * op.cin;
    out.push({ name: `${op.name}/kernel`, shape: [k, k, k, op.cin, op.cout], init: zero ? { kind: 'zeros' } : { kind: 'he', fanIn } });
    out.push({ name: `${op.name}/bias`, shape: [op.cout], init: { kind: 'zeros' } });
  }
  return out;
}

export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function paramCount(topo: NetTopology): number {
  return paramSpecs(topo).reduce((n, s) => n + shapeSize(s.shape), 0);
}

/** Fresh weights: He-normal kernels (drawn from `rng` in spec order), zero biases and zero head. */
export function initParams(topo: NetTopology, rng: Rng): Map<string, Float32Array> {
  const params = new Map<string, Float32Array>();
  for (const spec of paramSpecs(topo)) {
    const a = new Float32Array(shapeSize(spec.shape));
    if (spec.init.kind === 'he') {
      const sd = Math.sqrt(2 / spec.init.fanIn);
      for (let i = 0; i < a.length; i++) a[i] = rng.normal(0, sd);
    }
    params.set(spec.name, a);
  }
  return params;
}

/** How many times the spatial size is halved on the deepest path; the cube edge must divide by 2^this. */
export function downsampleDepth(topo: NetTopology): number {
  const depth = new Map<string, number>([['input', 0]]);
  let max = 0;
  for (const op of topo.ops) {
    const d = op.op === 'add' ? depth.get(op.inputs[0])! : depth.get(op.input)! + (op.op === 'down2' ? 1 : op.op === 'up2' ? -1 : 0);
    depth.set(op.name, d);
    max = Math.max(max, d);
  }
  return max;
}

const NAME_RE = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;

function isPosInt(v: unknown, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= max;
}

/**
 * Checks a topology read from a file: only allow-listed operations, known fields with sane values,
 * inputs that exist and agree on channels and resolution, one output channel at full resolution.
 * Returns a clean copy (unknown fields dropped); throws an Error saying what is wrong.
 */
export function validateTopology(raw: unknown, where = 'refiner topology'): NetTopology {
  const fail = (msg: string): never => {
    throw new Error(`${where}: ${msg}`);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('not an object');
  const obj = raw as Record<string, unknown>;
  if (obj['format'] !== 'lungtumor-refiner-net/1') fail(`unknown format ${JSON.stringify(obj['format'])}`);
  const inChannels = obj['inChannels'];
  if (inChannels !== 2) fail(`inChannels must be 2, got ${JSON.stringify(inChannels)}`);
  const rawOps = obj['ops'];
  if (!Array.isArray(rawOps) || rawOps.length === 0 || rawOps.length > 64) fail('ops must be a non-empty list (at most 64)');
  // channels and resolution level of every named tensor seen so far
  const seen = new Map<string, { ch: number; level: number }>([['input', { ch: 2, level: 0 }]]);
  const ops: NetOp[] = [];
  const ref = (name: unknown, i: number): { ch: number; level: number } => {
    if (typeof name !== 'string' || !seen.has(name)) return fail(`op ${i}: input ${JSON.stringify(name)} is not 'input' or an earlier op`);
    return seen.get(name)!;
  };
  (rawOps as unknown[]).forEach((r, i) => {
    if (typeof r !== 'object' || r === null) fail(`op ${i}: not an object`);
    const o = r as Record<string, unknown>;
    const kind = o['op'];
    if (typeof kind !== 'string' || !(ALLOWED_OPS as readonly string[]).includes(kind)) {
      fail(`op ${i}: operation ${JSON.stringify(kind)} is not allowed (allowed: ${ALLOWED_OPS.join(', ')})`);
    }
    const name = o['name'];
    if (typeof name !== 'string' || !NAME_RE.test(name) || name === 'input' || seen.has(name)) {
      fail(`op ${i}: bad or repeated name ${JSON.stringify(name)}`);
    }
    const relu = o['relu'];
    if (typeof relu !== 'boolean') fail(`op ${i}: relu must be true or false`);
    const nm = name as string;
    const rl = relu as boolean;
    if (kind === 'add') {
      const inputs = o['inputs'];
      if (!Array.isArray(inputs) || inputs.length !== 2) return fail(`op ${i}: add needs two inputs`);
      const a = ref(inputs[0], i);
      const b = ref(inputs[1], i);
      if (a.ch !== b.ch || a.level !== b.level) fail(`op ${i}: add of tensors with different shapes`);
      ops.push({ op: 'add', name: nm, inputs: [inputs[0] as string, inputs[1] as string], relu: rl });
      seen.set(nm, a);
      return;
    }
    const src = ref(o['input'], i);
    const cin = o['cin'];
    const cout = o['cout'];
    if (!isPosInt(cin, 256) || !isPosInt(cout, 256)) fail(`op ${i}: cin/cout must be integers in 1..256`);
    if (cin !== src.ch) fail(`op ${i}: cin ${String(cin)} but its input has ${src.ch} channels`);
    const c = { cin: cin as number, cout: cout as number };
    const input = o['input'] as string;
    if (kind === 'conv3d') {
      const kernel = o['kernel'];
      if (kernel !== 1 && kernel !== 3) fail(`op ${i}: conv3d kernel must be 1 or 3`);
      const zeroInit = o['zeroInit'];
      if (zeroInit !== undefined && typeof zeroInit !== 'boolean') fail(`op ${i}: zeroInit must be a boolean`);
      const op: Conv3dOp = { op: 'conv3d', name: nm, input, kernel: kernel as 1 | 3, ...c, relu: rl };
      if (zeroInit === true) op.zeroInit = true;
      ops.push(op);
      seen.set(nm, { ch: c.cout, level: src.level });
    } else if (kind === 'down2') {
      ops.push({ op: 'down2', name: nm, input, ...c, relu: rl });
      seen.set(nm, { ch: c.cout, level: src.level + 1 });
    } else {
      if (src.level < 1) fail(`op ${i}: up2 above full resolution`);
      ops.push({ op: 'up2', name: nm, input, ...c, relu: rl });
      seen.set(nm, { ch: c.cout, level: src.level - 1 });
    }
  });
  const last = seen.get(ops[ops.length - 1]!.name)!;
  if (last.ch !== 1 || last.level !== 0) fail('the last op must give one channel at full resolution');
  const topo: NetTopology = { format: 'lungtumor-refiner-net/1', inChannels: 2, ops };
  if (downsampleDepth(topo) > 4) fail('more than 4 downsampling levels');
  return topo;
}
