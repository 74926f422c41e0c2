import type { Command } from '../command.js';
import { parseCommandArgs, requireOption } from '../command.js';
import { UsageError } from '../../core/errors.js';
import { writeReport } from '../../report/report.js';

export const reportCommand: Command = {
  name: 'report',
  summary: 'write a static HTML report: what the model learned, how it did per scan and overall, what it costs',
  usage: `usage: lungtumor report --model DIR [--pred DIR [--truth DIR] [--scans DIR|FILE]] --out DIR [--quiet]

Writes DIR/index.html and DIR/images/*.png, a self-contained report (no network needed to view it):
  - the features each classifier relies on most (importance bar charts, with what each feature measures);
  - with --pred: per scan, the axial slice where the tumour is largest, a close-up, and a coronal and a
    sagittal slice through it (CT in a lung window, radiological convention), with the predicted and the
    true outline; Dice, RECIST (the challenge's and the longest axial diameter) and volume; quality flags
    (tumour at the scan's edge, low confidence, close call between regions, lungs not found, warnings);
  - with --truth: the challenge's metrics over all scans, a sortable table and predicted-vs-true volumes;
  - the model's size (learned numbers, bytes), time per stage to predict and to train, peak memory.
The folder is written whole at the end (an existing one is replaced).

options:
  --model DIR        a model folder written by 'lungtumor train'
  --pred DIR         predicted masks and prediction_log.json written by 'lungtumor predict'
  --truth DIR        true masks (a folder of masks, or a challenge-layout folder: its train/seg is used)
  --scans DIR|FILE   the CT scans, when the paths in prediction_log.json no longer reach them
  --out DIR          the report folder to write
  --quiet            no progress bar
`,
  async run(args) {
    const o = parseCommandArgs(reportCommand, args, {
      model: { type: 'string' },
      pred: { type: 'string' },
      truth: { type: 'string' },
      scans: { type: 'string' },
      out: { type: 'string' },
      quiet: { type: 'boolean' },
    });
    if (!o) return 0;
    if (o.truth !== undefined && o.pred === undefined) throw new UsageError('--truth needs --pred (the predictions to compare with)');
    if (o.scans !== undefined && o.pred === undefined) throw new UsageError('--scans needs --pred');
    const summary = await writeReport({
      modelDir: requireOption(o.model, 'model'),
      predDir: o.pred,
      truthDir: o.truth,
      scansDir: o.scans,
      outDir: requireOption(o.out, 'out'),
      log: (line) => process.stderr.write(`lungtumor report: ${line}\n`),
      quiet: o.quiet ?? false,
    });
    const scored = summary.score !== null ? `; score ${summary.score.toFixed(4)} over ${summary.scored} scored scan(s)` : '';
    process.stdout.write(`report: ${summary.indexHtml} (${summary.cases} scan(s)${scored})\n`);
    return 0;
  },
};
