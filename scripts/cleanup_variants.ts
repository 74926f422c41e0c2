/**
 * Inference-only variants of the clean-up, scored on leave-one-out fold models without retraining:
 * each fold's held-out scan is segmented once, then every variant redoes the clean-up from the same
 * refined probability and is scored with the challenge's metrics on the scan's own grid.
 *
 *   node dist/scripts/cleanup_variants.js --loo DIR | --model DIR --data DIR [--json FILE]
 *
 * DIR (--loo) is `loo.js --out`: DIR/<ID>/model for each held-out case of `--data`; or one model
 * (`--model`) for every case of `--data` (a held-out test cohort).
 */
import { parseArgs } from 'node:util';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { segmentScan, type ScanStages } from '../src/pipeline/predict.js';
import { loadModel } from '../src/pipeline/model-folder.js';
import { readScan } from '../src/io/scans.js';
import { readMaskFor } from '../src/io/masks.js';
import { listTrainingCases } from '../src/io/cohort.js';
import { featureExtractor } from '../src/features/index.js';
import { nativeBoxMaskToOriginal, nativeGrid } from '../src/pipeline/scan.js';
import { boxDims, crop } from '../src/features/masks.js';
import { resampleToGrid } from '../src/geometry/resample.js';
import { dilateMm } from '../src/core/morphology.js';
import { cleanupTumour, spurRadiusFor, type NeckCut } from '../src/pipeline/cleanup.js';
import { diceFromCounts, overlapCounts } from '../src/metrics/dice.js';
import { measureMask } from '../src/metrics/measures.js';
import { scoreCase, scoreCohort, type CaseEvaluation } from '../src/metrics/score.js';

const { values } = parseArgs({ options: { loo: { type: 'string' }, model: { type: 'string' }, data: { type: 'string' }, json: { type: 'string' } } });
if (!(values.loo || values.model) || !values.data) {
  process.stderr.write('usage: node dist/scripts/cleanup_variants.js --loo DIR | --model DIR --data DIR [--json FILE]\n');
  process.exit(2);
}

/** A neck cut (null: none), and a limit (mm beyond the eligible voxels) on the refined probability. */
interface Variant { neck: NeckCut | null; clipMm: number | null }
const variants: Record<string, Variant> = { base: { neck: null, clipMm: null } };
for (const erosionShare of [0.35, 0.4, 0.5, 0.65]) {
  variants[`neck ${erosionShare}`] = { neck: { erosionShare, growth: 2 }, clipMm: null };
}
for (const clipMm of [0, 4]) variants[`eligible + ${clipMm} mm`] = { neck: null, clipMm };

const perVariant = new Map<string, CaseEvaluation[]>(Object.keys(variants).map((k) => [k, []]));
for (const c of listTrainingCases(values.data)) {
  const modelDir = values.model ?? join(values.loo!, c.id, 'model');
  if (!existsSync(modelDir)) continue;
  const model = await loadModel(modelDir);
  const ct = readScan(c.volume);
  const truth = readMaskFor(c.seg!, ct);
  const truthMeasures = measureMask(truth, ct.dims, ct.spacing);
  const extractor = featureExtractor({ workers: 2, gpu: null });
  let stages: ScanStages | undefined;
  await segmentScan(model, ct, extractor, (s) => { stages = s; });
  await extractor.close();
  // The eligible working voxels on the clean-up's native box (nearest working voxel).
  let eligibleBox: Uint8Array | null = null;
  if (stages) {
    const s = stages;
    const work = new Uint8Array(s.scan.hu.length);
    for (const v of s.eligible) work[v] = 1;
    const native = resampleToGrid(work, s.scan.grid, nativeGrid(s.scan), 'nearest');
    eligibleBox = crop(native, s.scan.native.dims, s.box, (k) => new Uint8Array(k));
  }
  const cleanup = (s: ScanStages, prob: Float32Array, neck: NeckCut | null): Uint8Array =>
    cleanupTumour(prob, s.anchor, boxDims(s.box), s.scan.native.spacing, spurRadiusFor(s.scan.native.spacing), { hu: s.boxHu, minHu: s.aeratedMinHu }, neck).mask;
  // The clean-up without a cut, against which each cut's removed and kept parts are counted.
  const uncut = stages ? cleanup(stages, stages.boxProb, null) : null;
  for (const [name, { neck, clipMm }] of Object.entries(variants)) {
    let mask: Uint8Array;
    if (!stages) mask = new Uint8Array(truth.length);
    else {
      const s = stages;
      let prob = s.boxProb;
      if (clipMm !== null) {
        const allowed = clipMm > 0 ? dilateMm(eligibleBox!, boxDims(s.box), s.scan.native.spacing, clipMm) : eligibleBox!;
        prob = prob.map((p, i) => (allowed[i] ? p : 0));
      }
      const boxMask = cleanup(s, prob, neck);
      mask = nativeBoxMaskToOriginal(boxMask, s.box, s.scan);
      if (neck && clipMm === null) {
        let removed = 0, removedEligible = 0, kept = 0, keptEligible = 0;
        for (let i = 0; i < uncut!.length; i++) {
          if (!uncut![i]) continue;
          if (boxMask[i]) { kept++; if (eligibleBox![i]) keptEligible++; } else { removed++; if (eligibleBox![i]) removedEligible++; }
        }
        // Whether the cut parts lie outside the lungs' eligible region more than the kept ones.
        process.stdout.write(`  ${name}: removed ${removed} (eligible ${(removedEligible / Math.max(1, removed)).toFixed(2)}), kept ${kept} (eligible ${(keptEligible / Math.max(1, kept)).toFixed(2)})\n`);
      }
    }
    const d = diceFromCounts(overlapCounts(mask, truth));
    const ev = scoreCase(c.id, { dice: d, measures: measureMask(mask, ct.dims, ct.spacing) }, truthMeasures);
    perVariant.get(name)!.push(ev);
    process.stdout.write(`${c.id}\t${name}\t${d.toFixed(3)}\t${ev.volume_pred?.toFixed(1)} / ${ev.volume_true.toFixed(1)} mL\n`);
  }
}
const summary = [...perVariant].map(([name, cases]) => {
  const s = scoreCohort(cases);
  return { name, mean_dice: s.mean_dice, recist: s.mean_recist_err, volume: s.mean_volume_err, score: s.score, dice: cases.map((e) => `${e.id} ${e.dice.toFixed(3)}`).join(', ') };
});
for (const s of summary) process.stdout.write(`${s.name}\tDice ${s.mean_dice.toFixed(3)}\tRECIST ${s.recist.toFixed(3)}\tvol ${s.volume.toFixed(3)}\tscore ${s.score.toFixed(3)}\n`);
if (values.json) writeFileSync(values.json, `${JSON.stringify({ summary, cases: Object.fromEntries(perVariant) }, null, 2)}\n`);
