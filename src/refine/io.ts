/**
 * Saving and loading a refiner: `refiner.json` + `refiner.weights.bin` in a folder.
 *
 * refiner.json has the shape of a tfjs model.json - `format`, `generatedBy`, `modelTopology`,
 * `weightsManifest` ([{paths: ['refiner.weights.bin'], weights: [{name, shape, dtype}]}]) and
 * `userDefinedMetadata.lungtumor` (our RefinerMeta plus the weights' SHA-256) - and the .bin holds
 * the float32 weights, little-endian, in manifest order. Both go through a tfjs IOHandler
 * (`refinerIOHandler`), reading through a FolderReader and writing through a FileWriter (disk.ts
 * writes each file atomically); the checksum catches a .bin from another save. Nothing here touches
 * files itself, so the web page loads a refiner with it from memory.
 *
 * The topology is our own op list (arch.ts), not a tfjs-layers model config. Loading never runs code:
 * the JSON is parsed, every op is checked against an allow-list (conv3d, down2, up2, add) and
 * interpreted by tfnet.ts. We checked what tf.loadLayersModel would do with a layers topology:
 * tfjs-layers' deserialize() looks each `className` up in its class registry and calls that class's
 * fromConfig() - no eval or Function - but it accepts any class anyone registered, and our fast
 * conv3d is not a tfjs layer, so lungtumor never hands a file's topology to tfjs.
 */
import type { io } from '@tensorflow/tfjs-core';
import type { FolderReader } from '../core/folder.js';
import { InputError } from '../core/errors.js';
import type { NetTopology } from './arch.js';
import { downsampleDepth, paramCount, paramSpecs, shapeSize, validateTopology } from './arch.js';
import type { BackendChoice, Log } from './backend.js';
import { openTf } from './backend.js';
import type { RefinerMeta, RefinerTrainReport } from './refiner.js';
import { NetRefiner } from './refiner.js';
import { PROB_EPS } from './tfnet.js';

export const REFINER_JSON = 'refiner.json';
export const REFINER_WEIGHTS = 'refiner.weights.bin';
export const REFINER_FORMAT = 'lungtumor-refiner';
/** Larger files are not refiners of ours (100k parameters need ~400 kB of weights, ~20 kB of JSON). */
const MAX_JSON_BYTES = 1 << 20;
const MAX_WEIGHT_BYTES = 64 << 20;

function assertLittleEndian(): void {
  // Weights are copied between Float32Array and the file byte for byte.
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('refiner files need a little-endian machine');
}

/** WebCrypto's SHA-256 (Node's global crypto and the browser's alike), as hex. */
async function sha256(data: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

function asBytes(w: io.WeightData): Uint8Array {
  const parts = Array.isArray(w) ? w : [w];
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p), off);
    off += p.byteLength;
  }
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A tfjs IOHandler for a refiner folder. save() writes the weights, then the JSON that names them
 * (with their checksum); load() checks the JSON's structure, the manifest against the .bin's length
 * and checksum, and returns the artifacts. Meaning (topology, metadata) is checked by loadRefiner.
 */
export function refinerIOHandler(folder: FolderReader, write?: FileWriter): Required<Pick<io.IOHandler, 'save' | 'load'>> {
  const jsonPath = folder.where(REFINER_JSON);
  const binPath = folder.where(REFINER_WEIGHTS);
  return {
    async save(artifacts: io.ModelArtifacts): Promise<io.SaveResult> {
      assertLittleEndian();
      if (!write) throw new Error('refiner save: no way to write files here');
      if (!isRecord(artifacts.modelTopology)) throw new Error('refiner save: modelTopology must be a JSON object');
      if (artifacts.weightSpecs === undefined || artifacts.weightData === undefined) throw new Error('refiner save: no weights');
      const bytes = asBytes(artifacts.weightData);
      const json = {
        format: REFINER_FORMAT,
        generatedBy: artifacts.generatedBy ?? 'lungtumor',
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [REFINER_WEIGHTS], weights: artifacts.weightSpecs }],
        userDefinedMetadata: { ...(artifacts.userDefinedMetadata ?? {}), weightsSha256: await sha256(bytes) },
      };
      const text = `${JSON.stringify(json, null, 1)}\n`;
      write(REFINER_WEIGHTS, bytes);
      write(REFINER_JSON, text);
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          modelTopologyBytes: JSON.stringify(json.modelTopology).length,
          weightSpecsBytes: JSON.stringify(artifacts.weightSpecs).length,
          weightDataBytes: bytes.byteLength,
        },
      };
    },

    async load(): Promise<io.ModelArtifacts> {
      assertLittleEndian();
      const bad = (file: string, problem: string): never => {
        throw new InputError(file, problem);
      };
      const jsonSize = folder.size(REFINER_JSON);
      if (jsonSize === null) return bad(jsonPath, 'no such file (not a refiner folder?)');
      if (jsonSize > MAX_JSON_BYTES) bad(jsonPath, `larger than ${MAX_JSON_BYTES} bytes; not a refiner file`);
      let parsed: unknown;
      try {
        parsed = JSON.parse(new TextDecoder().decode(folder.read(REFINER_JSON)));
      } catch (err) {
        return bad(jsonPath, `not valid JSON (${err instanceof Error ? err.message : String(err)}); truncated?`);
      }
      if (!isRecord(parsed)) return bad(jsonPath, 'not a JSON object');
      if (parsed['format'] !== REFINER_FORMAT) bad(jsonPath, `format is ${JSON.stringify(parsed['format'])}, expected "${REFINER_FORMAT}"`);
      const manifest = parsed['weightsManifest'];
      if (!Array.isArray(manifest) || manifest.length !== 1 || !isRecord(manifest[0])) {
        return bad(jsonPath, 'weightsManifest must hold exactly one group');
      }
      const group = manifest[0];
      const paths = group['paths'];
      // Only the fixed sibling file: a path from the file could point anywhere.
      if (!Array.isArray(paths) || paths.length !== 1 || paths[0] !== REFINER_WEIGHTS) {
        bad(jsonPath, `weightsManifest paths must be ["${REFINER_WEIGHTS}"]`);
      }
      const rawSpecs = group['weights'];
      if (!Array.isArray(rawSpecs) || rawSpecs.length === 0 || rawSpecs.length > 256) return bad(jsonPath, 'weightsManifest weights must be a non-empty list');
      const specs: io.WeightsManifestEntry[] = rawSpecs.map((s: unknown, i: number) => {
        if (!isRecord(s)) return bad(jsonPath, `weight spec ${i} is not an object`);
        const { name, shape, dtype } = s;
        if (typeof name !== 'string' || name.length === 0 || name.length > 128) return bad(jsonPath, `weight spec ${i}: bad name`);
        if (!Array.isArray(shape) || shape.length > 6 || !shape.every((d) => Number.isInteger(d) && d >= 1 && d <= 4096)) {
          return bad(jsonPath, `weight ${name}: shape must be a list of up to 6 positive integers`);
        }
        if (dtype !== 'float32') return bad(jsonPath, `weight ${name}: dtype ${JSON.stringify(dtype)}, only float32 is supported`);
        if (s['quantization'] !== undefined) return bad(jsonPath, `weight ${name}: quantized weights are not supported`);
        return { name, shape: shape as number[], dtype: 'float32' };
      });
      const need = specs.reduce((n, s) => n + shapeSize(s.shape) * 4, 0);
      if (need > MAX_WEIGHT_BYTES) bad(jsonPath, `weights would need ${need} bytes; not a refiner`);
      const size = folder.size(REFINER_WEIGHTS);
      if (size === null) return bad(binPath, 'no such file');
      if (size !== need) {
        bad(binPath, `${size} bytes, but ${REFINER_JSON}'s weightsManifest needs ${need}${size < need ? ' (truncated?)' : ''}`);
      }
      const bytes = new Uint8Array(folder.read(REFINER_WEIGHTS));
      const meta = parsed['userDefinedMetadata'];
      if (!isRecord(meta) || typeof meta['weightsSha256'] !== 'string') return bad(jsonPath, 'userDefinedMetadata.weightsSha256 is missing');
      if (meta['weightsSha256'] !== (await sha256(bytes))) bad(binPath, `checksum does not match ${REFINER_JSON} (corrupt, or from another save)`);
      const weightData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      const artifacts: io.ModelArtifacts = {
        modelTopology: parsed['modelTopology'] as {},
        weightSpecs: specs,
        weightData,
        format: REFINER_FORMAT,
        userDefinedMetadata: meta as { [key: string]: {} },
      };
      if (typeof parsed['generatedBy'] === 'string') artifacts.generatedBy = parsed['generatedBy'];
      return artifacts;
    },
  };
}

/** Writes a file of a refiner's folder by name (src/refine/disk.ts writes them atomically to disk). */
export type FileWriter = (name: string, data: Uint8Array | string) => void;

/** Writes a refiner as refiner.json + refiner.weights.bin through `write` (see saveRefiner in disk.ts). */
export async function saveRefinerWith(refiner: NetRefiner, folder: FolderReader, write: FileWriter): Promise<void> {
  const specs = paramSpecs(refiner.topology);
  const total = specs.reduce((n, s) => n + shapeSize(s.shape), 0);
  const flat = new Float32Array(total);
  let off = 0;
  for (const s of specs) {
    const a = refiner.params.get(s.name)!;
    flat.set(a, off);
    off += a.length;
  }
  await refinerIOHandler(folder, write).save({
    modelTopology: refiner.topology,
    weightSpecs: specs.map((s) => ({ name: s.name, shape: s.shape, dtype: 'float32' as const })),
    weightData: flat.buffer,
    format: REFINER_FORMAT,
    generatedBy: `lungtumor refiner (tfjs ${refiner.meta.tfjsVersion})`,
    userDefinedMetadata: { lungtumor: refiner.meta as unknown as {} },
  });
}

function validateMeta(raw: unknown, topo: NetTopology, file: string): RefinerMeta {
  const bad = (problem: string): never => {
    throw new InputError(file, `userDefinedMetadata.lungtumor: ${problem}`);
  };
  if (!isRecord(raw)) return bad('missing or not an object');
  const size = raw['size'];
  const step = 2 ** downsampleDepth(topo);
  if (typeof size !== 'number' || !Number.isInteger(size) || size < step || size > 256 || size % step !== 0) {
    bad(`size must be a multiple of ${step} in ${step}..256, got ${JSON.stringify(size)}`);
  }
  const ch = raw['channels'];
  if (!Array.isArray(ch) || ch.length !== 2 || ch[0] !== 'ct' || ch[1] !== 'probability') bad('channels must be ["ct", "probability"]');
  if (raw['inputLayout'] !== 'channel-first, voxel order x fastest then y then z') bad('unknown inputLayout');
  const norm = raw['normalisation'];
  if (!isRecord(norm)) return bad('normalisation missing');
  const win = norm['ctWindowHU'];
  if (win !== null && !(Array.isArray(win) && win.length === 2 && win.every((v) => typeof v === 'number' && Number.isFinite(v)))) {
    bad('normalisation.ctWindowHU must be null or [lo, hi]');
  }
  if (norm['probabilityClamp'] !== PROB_EPS) bad(`normalisation.probabilityClamp must be ${PROB_EPS}`);
  const count = paramCount(topo);
  if (raw['paramCount'] !== count) bad(`paramCount ${JSON.stringify(raw['paramCount'])} but the topology has ${count}`);
  if (typeof raw['tfjsVersion'] !== 'string' || typeof raw['trainBackend'] !== 'string') bad('tfjsVersion and trainBackend must be strings');
  const training = raw['training'];
  if (training !== null && !isRecord(training)) bad('training must be an object or null');
  return {
    size: size as number,
    channels: ['ct', 'probability'],
    inputLayout: 'channel-first, voxel order x fastest then y then z',
    normalisation: { ctWindowHU: win === null ? null : [(win as number[])[0]!, (win as number[])[1]!], probabilityClamp: PROB_EPS },
    paramCount: count,
    tfjsVersion: raw['tfjsVersion'] as string,
    trainBackend: raw['trainBackend'] as string,
    // Informational only; kept as read.
    training: training as RefinerTrainReport | null,
  };
}

/**
 * Reads a refiner saved by saveRefiner, from a folder's files wherever they are (disk, or a model
 * in memory in the web page). Throws an InputError naming the file and the problem when either file
 * is missing, malformed, truncated, inconsistent with the other, or uses an op outside the
 * allow-list. Inference runs on `backend` (default 'auto'), which is logged.
 */
export async function loadRefinerFrom(folder: FolderReader, opts: { backend?: BackendChoice; log?: Log } = {}): Promise<NetRefiner> {
  const jsonPath = folder.where(REFINER_JSON);
  const art = await refinerIOHandler(folder).load();
  let topo: NetTopology;
  try {
    topo = validateTopology(art.modelTopology, 'modelTopology');
  } catch (err) {
    throw new InputError(jsonPath, err instanceof Error ? err.message : String(err));
  }
  const meta = validateMeta(art.userDefinedMetadata?.['lungtumor'], topo, jsonPath);
  const expected = paramSpecs(topo);
  const specs = art.weightSpecs!;
  if (specs.length !== expected.length) throw new InputError(jsonPath, `${specs.length} weights listed, the topology needs ${expected.length}`);
  const bytes = art.weightData as ArrayBuffer;
  const params = new Map<string, Float32Array>();
  let off = 0;
  expected.forEach((e, i) => {
    const s = specs[i]!;
    if (s.name !== e.name || s.shape.length !== e.shape.length || s.shape.some((d, k) => d !== e.shape[k])) {
      throw new InputError(jsonPath, `weight ${i} is ${s.name} [${s.shape.join(',')}], the topology needs ${e.name} [${e.shape.join(',')}]`);
    }
    const n = shapeSize(e.shape);
    const a = new Float32Array(bytes.slice(off, off + 4 * n));
    off += 4 * n;
    if (!a.every(Number.isFinite)) throw new InputError(folder.where(REFINER_WEIGHTS), `weight ${e.name} has non-finite values`);
    params.set(e.name, a);
  });
  const rt = await openTf(opts.backend ?? 'auto', opts.log);
  opts.log?.(`refiner: loaded ${folder.where(REFINER_JSON)} (${meta.size}³ cubes, ${meta.paramCount} parameters, trained on ${meta.trainBackend}); inference on ${rt.label}`);
  return new NetRefiner(rt, topo, params, meta);
}
