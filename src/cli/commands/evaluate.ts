import type { Command } from '../command.js';
import { parseCommandArgs, requireOption } from '../command.js';
import { writeFileAtomic } from '../../core/atomic.js';
import { Progress } from '../../core/progress.js';
import { evaluateFolders, type FolderEvaluation } from '../../metrics/evaluate.js';

function fixed(v: number | null, digits: number): string {
  return v === null ? '-' : v.toFixed(digits);
}

/** The per-case table and the means, for a terminal. */
function table(r: FolderEvaluation): string {
  const head = ['id', 'dice', 'recist_pred', 'recist_true', 'recist_err', 'vol_pred', 'vol_true', 'vol_err', 'feret_pred', 'feret_true'];
  const rows = r.cases.map((c) => [
    c.id,
    fixed(c.dice, 4),
    fixed(c.recist_pred, 2),
    fixed(c.recist_true, 2),
    fixed(c.recist_err, 4),
    fixed(c.volume_pred, 2),
    fixed(c.volume_true, 2),
    fixed(c.volume_err, 4),
    fixed(c.feret_pred, 2),
    fixed(c.feret_true, 2),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((s, i) => (i === 0 ? s.padEnd(widths[i]!) : s.padStart(widths[i]!))).join('  ');
  const out = [line(head), ...rows.map(line), ''];
  out.push(`mean dice        ${r.mean_dice.toFixed(4)}`);
  out.push(`mean recist err  ${r.mean_recist_err.toFixed(4)}`);
  out.push(`mean volume err  ${r.mean_volume_err.toFixed(4)}`);
  out.push(`score            ${r.score.toFixed(4)}   (mean of 1 - dice, recist err, volume err; lower is better)`);
  if (r.missing.length > 0) out.push(`missing predictions (scored dice 0, errors 1): ${r.missing.join(', ')}`);
  return `${out.join('\n')}\n`;
}

export const evaluateCommand: Command = {
  name: 'evaluate',
  summary: "score predicted masks against true masks with the challenge's metrics (Dice, RECIST, volume)",
  usage: `usage: lungtumor evaluate --pred DIR --truth DIR [--json FILE]

Matches cases by id (file name up to the first '_'), prints a per-case table and the means:
Dice, the kit's RECIST (mm) and volume (mL) with their relative errors (clipped at 1), the true
RECIST (largest in-plane Feret diameter, mm), and the challenge score
  mean(1 - mean Dice, mean RECIST error, mean volume error)   (lower is better).
A truth case with no prediction scores Dice 0 and errors 1. An empty true mask: error 0 when the
prediction is empty too, else 1.

options:
  --pred DIR    folder of predicted .nii / .nii.gz masks
  --truth DIR   folder of true masks
  --json FILE   also write the numbers as JSON
  --binarize    count every non-zero label as tumour (a warning per such mask); without it a
                mask with labels other than 0 and 1 is an error
`,
  async run(args) {
    const opts = parseCommandArgs(evaluateCommand, args, {
      pred: { type: 'string' },
      truth: { type: 'string' },
      json: { type: 'string' },
      binarize: { type: 'boolean' },
    });
    if (!opts) return 0;
    const predDir = requireOption(opts.pred, 'pred');
    const truthDir = requireOption(opts.truth, 'truth');
    const result = evaluateFolders(predDir, truthDir, {
      progress: (total) => new Progress('evaluate', total),
      log: (line) => process.stderr.write(`lungtumor evaluate: ${line}\n`),
      binarize: opts.binarize === true,
    });
    if (result.unmatched.length > 0) {
      process.stderr.write(`lungtumor evaluate: ignoring predictions with no true mask: ${result.unmatched.join(', ')}\n`);
    }
    if (opts.json !== undefined) {
      const { cases, mean_dice, mean_recist_err, mean_volume_err, score, missing } = result;
      const json = { cases, mean_dice, mean_recist_err, mean_volume_err, score, missing };
      writeFileAtomic(opts.json, `${JSON.stringify(json, null, 2)}\n`);
    }
    process.stdout.write(table(result));
    return 0;
  },
};
