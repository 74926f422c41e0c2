import type { Command } from '../command.js';
import { parseCommandArgs, requireOption } from '../command.js';
import { UsageError } from '../../core/errors.js';
import { writeFileAtomic } from '../../core/atomic.js';
import { Progress } from '../../core/progress.js';
import { submissionCsv, submissionRowsOfFolders } from '../../submission/submission.js';

export const submitCommand: Command = {
  name: 'submit',
  summary: 'write the challenge submission CSV (id, rle, recist, volume, data_shape) of a folder of masks',
  usage: `usage: lungtumor submit --masks DIR [--masks DIR ...] --out FILE.csv

Writes one row per NIfTI mask in DIR (case id = file name up to the first '_'), exactly as the
challenge's kit writes its CSV: run-length code of the mask in C order of the (x, y, z) array,
the kit's RECIST (mm) and volume (mL, 2 decimals), and the array shape. The file is written
only when every mask was read. Several DIRs count as one folder: the parts of a
'predict --shard K/N' run merge into the CSV that one run writes.

options:
  --masks DIR   folder of .nii / .nii.gz masks, labels 0 and 1 (repeat for several; a case
                id in two of them is an error)
  --out FILE    the CSV to write
  --binarize    count every non-zero label as tumour (a warning per such mask); without it a
                mask with labels other than 0 and 1 is an error
`,
  async run(args) {
    const opts = parseCommandArgs(submitCommand, args, {
      masks: { type: 'string', multiple: true },
      out: { type: 'string' },
      binarize: { type: 'boolean' },
    });
    if (!opts) return 0;
    const dirs = opts.masks ?? [];
    if (dirs.length === 0) throw new UsageError('missing required option --masks');
    const out = requireOption(opts.out, 'out');
    const rows = submissionRowsOfFolders(dirs, (total) => new Progress('submit', total), (line) => process.stderr.write(`lungtumor submit: ${line}\n`), opts.binarize === true);
    writeFileAtomic(out, submissionCsv(rows));
    process.stdout.write(`wrote ${rows.length} case${rows.length === 1 ? '' : 's'} to ${out}\n`);
    return 0;
  },
};
