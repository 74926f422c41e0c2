/**
 * Where a model loses a tumour's outline: Dice against the true mask after each inference stage.
 *
 *   node dist/scripts/stage_dice.js --model DIR --scan CT.nii.gz --truth SEG.nii.gz [--json FILE]
 *
 * All Dice values are on the scan's native grid (canonical voxel order). Stages: the chosen
 * candidate; the refined probability ≥ 0.5 inside the reach; the same above the aerated-lung HU
 * floor; the final mask. Also: the share of the tumour the reach allows at all, the share of the
 * tumour's working voxels that are eligible, the candidate that best overlaps the tumour (its rank
 * and score), and the refined-probability threshold that would have been best (an oracle, not a
 * setting to tune), and the final mask had that best-overlapping candidate been chosen (an oracle
 * for the choice, so a lost choice and a poor outline can be told apart). `--slices` adds, per
 * working-grid slice the tumour or the chosen candidate reaches, where the tumour's voxels are
 * lost: how many are eligible, reach p >= 0.5, lie in the chosen candidate, and how many of the
 * candidate's voxels are not tumour (with the tumour's median HU there). A tumour cut off at one
 * end shows up as slices with no p >= 0.5 at all.
 */
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { segmentScan, type ScanStages } from '../src/pipeline/predict.js';
import { loadModel } from '../src/pipeline/model-folder.js';
import { readScan } from '../src/io/scans.js';
import { readMaskFor } from '../src/io/masks.js';
import { featureExtractor } from '../src/features/index.js';
import { maskToNative, nativeMaskToWorking } from '../src/pipeline/scan.js';
import { crop } from '../src/features/masks.js';
import { CANDIDATE_FEATURES } from '../src/candidates/candidates.js';
import type { ForestModel } from '../src/classifier/forest.js';
import { overlapCounts } from '../src/metrics/dice.js';

const { values } = parseArgs({
  options: { model: { type: 'string' }, scan: { type: 'string' }, truth: { type: 'string' }, json: { type: 'string' }, slices: { type: 'boolean' } },
});
if (!values.model || !values.scan || !values.truth) {
  process.stderr.write('usage: node dist/scripts/stage_dice.js --model DIR --scan CT --truth SEG [--json FILE] [--slices]\n');
  process.exit(2);
}

const model = await loadModel(values.model);
const ct = readScan(values.scan);
const truthOriginal = readMaskFor(values.truth, ct);
const extractor = featureExtractor({ workers: 2, gpu: null });
let stages: ScanStages | undefined;
await segmentScan(model, ct, extractor, (s) => { stages = s; });
if (!stages) {
  await extractor.close();
  throw new Error('no candidate: nothing to analyse');
}
const s = stages;
const truthNative = maskToNative(truthOriginal, s.scan);
const truthTotal = truthNative.reduce((a, v) => a + v, 0);
const truthBox = crop(truthNative, s.scan.native.dims, s.box, (k) => new Uint8Array(k));

const mlPerVoxel = s.scan.native.spacing.reduce((a, v) => a * v, 1) / 1000;
function dice(pred: (i: number) => boolean): { dice: number; ml: number } {
  let inter = 0, count = 0;
  for (let i = 0; i < truthBox.length; i++) {
    if (!pred(i)) continue;
    count++;
    if (truthBox[i]) inter++;
  }
  return { dice: round((2 * inter) / (count + truthTotal)), ml: round(count * mlPerVoxel) };
}
const round = (v: number): number => Math.round(v * 1000) / 1000;

let truthInReach = 0;
for (let i = 0; i < truthBox.length; i++) if (truthBox[i] && s.reach[i]) truthInReach++;
const truthWorking = nativeMaskToWorking(truthNative, s.scan);
const eligible = new Uint8Array(truthWorking.length);
for (const v of s.eligible) eligible[v] = 1;
let truthWorkingCount = 0, truthEligible = 0, truthProbHalf = 0;
for (let i = 0; i < truthWorking.length; i++) {
  if (!truthWorking[i]) continue;
  truthWorkingCount++;
  if (eligible[i]) truthEligible++;
  if (s.prob[i]! >= 0.5) truthProbHalf++;
}
const overlaps = s.candidates.map((c) => {
  let inter = 0;
  for (const v of c.voxels) if (truthWorking[v]) inter++;
  return { inter, size: c.voxels.length, dice: (2 * inter) / (c.voxels.length + truthWorkingCount) };
});
const order = [...s.candidates.keys()].sort((a, b) => s.candidateScores[b]! - s.candidateScores[a]! || a - b);
const best = overlaps.reduce((b, v, k) => (v.dice > overlaps[b]!.dice ? k : b), 0);
const thresholds = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9].map((t) => ({ t, ...dice((i) => s.boxProb[i]! >= t && s.boxHu[i]! >= s.aeratedMinHu) }));
const oracle = thresholds.reduce((b, v) => (v.dice > b.dice ? v : b));

const result = {
  scan: values.scan,
  truthMl: round(truthTotal * mlPerVoxel),
  candidate: dice((i) => s.anchor[i] === 1),
  refined: dice((i) => s.boxProb[i]! >= 0.5),
  refinedAboveFloor: dice((i) => s.boxProb[i]! >= 0.5 && s.boxHu[i]! >= s.aeratedMinHu),
  final: dice((i) => s.final[i] === 1),
  aeratedMinHu: s.aeratedMinHu,
  truthShareInReach: round(truthInReach / truthTotal),
  truthShareEligible: round(truthEligible / truthWorkingCount),
  truthShareProbAtLeastHalf: round(truthProbHalf / truthWorkingCount),
  candidates: s.candidates.length,
  chosen: { rank: 1, score: round(s.candidateScores[s.chosen]!), voxels: s.candidates[s.chosen]!.voxels.length, tumourVoxels: overlaps[s.chosen]!.inter },
  bestOverlap: { rank: order.indexOf(best) + 1, score: round(s.candidateScores[best]!), voxels: overlaps[best]!.size, tumourVoxels: overlaps[best]!.inter, workingDice: round(overlaps[best]!.dice) },
  oracleThreshold: oracle,
  ...(values.slices ? { slices: perSlice() } : {}),
};
/** Per working-grid slice (z, canonical RAS order: z rises towards the head): where the tumour's voxels are lost. */
function perSlice(): { z: number; tumour: number; eligible: number; probAtLeastHalf: number; inCandidate: number; candidateNotTumour: number; tumourMedianHu: number | null }[] {
  const [nx, ny, nz] = s.scan.grid.dims;
  const plane = nx * ny;
  const inCandidate = new Uint8Array(truthWorking.length);
  for (const v of s.candidates[s.chosen]!.voxels) inCandidate[v] = 1;
  const rows = [];
  for (let z = 0; z < nz; z++) {
    let tumour = 0, elig = 0, prob = 0, cand = 0, candOther = 0;
    const hu: number[] = [];
    for (let i = z * plane; i < (z + 1) * plane; i++) {
      if (!truthWorking[i]) {
        if (inCandidate[i]) candOther++;
        continue;
      }
      tumour++;
      hu.push(s.scan.hu[i]!);
      if (eligible[i]) elig++;
      if (s.prob[i]! >= 0.5) prob++;
      if (inCandidate[i]) cand++;
    }
    if (tumour === 0 && candOther === 0) continue;
    hu.sort((a, b) => a - b);
    rows.push({ z, tumour, eligible: elig, probAtLeastHalf: prob, inCandidate: cand, candidateNotTumour: candOther, tumourMedianHu: hu.length > 0 ? Math.round(hu[hu.length >> 1]!) : null });
  }
  return rows;
}

// Selection against delineation: the final mask had the candidate that best overlaps the tumour
// been chosen (an oracle: the candidate classifier made to score that one 1 and the others 0).
let bestChosen = result.final;
if (best !== s.chosen) {
  const n = s.candidates.length;
  const forced: ForestModel = Object.create(model.candidateClassifier);
  forced.predictProba = (rows: Float32Array): Float32Array => {
    if (rows.length !== n * CANDIDATE_FEATURES.length) throw new Error('the candidates differ between the two runs');
    return Float32Array.from({ length: n }, (_, k) => (k === best ? 1 : 0));
  };
  const forcedMask = (await segmentScan({ ...model, candidateClassifier: forced }, ct, extractor)).mask;
  const { tp, fp } = overlapCounts(forcedMask, truthOriginal);
  bestChosen = { dice: round((2 * tp) / (tp + fp + truthTotal)), ml: round((tp + fp) * mlPerVoxel) };
}
await extractor.close();
Object.assign(result, { finalWithBestCandidate: bestChosen });

process.stdout.write(`${JSON.stringify(result)}\n`);
if (values.json) writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);
