import type { Command } from '../command.js';
import { parseCommandArgs, requireOption } from '../command.js';
import { writeWebSite } from '../../web/site.js';

export const webCommand: Command = {
  name: 'web',
  summary: 'write a static web page that segments scans in the browser with a model (nothing uploaded)',
  usage: `usage: lungtumor web --model DIR --out SITE

Writes SITE/index.html, SITE/app.js, SITE/model.js and SITE/model/ (a copy of the model folder).
Open index.html in a browser (from disk, or from any static web server): choose or drop a NIfTI
scan or the folder of a DICOM CT series (uncompressed, as predict reads it), and the page segments it on this machine (a Web Worker running the same pipeline as
'lungtumor predict'), shows each stage, the CT with the mask in three planes, the volume, RECIST
and quality flags, and offers <ID>_seg.nii.gz for download: the same bytes 'lungtumor predict'
writes. The page makes no network request. SITE is written whole (an existing one is replaced).

options:
  --model DIR   a model folder written by 'lungtumor train'
  --out SITE    the folder to write
`,
  async run(args) {
    const o = parseCommandArgs(webCommand, args, { model: { type: 'string' }, out: { type: 'string' } });
    if (!o) return 0;
    await writeWebSite({ modelDir: requireOption(o.model, 'model'), outDir: requireOption(o.out, 'out'), log: (line) => process.stderr.write(`${line}\n`) });
    return 0;
  },
};
