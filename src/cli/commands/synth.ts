import type { Command } from '../command.js';
import { intOption, parseCommandArgs, requireOption } from '../command.js';
import { InputError } from '../../core/errors.js';
import { Progress } from '../../core/progress.js';
import { MAX_CASES, MAX_IMPLANTS_PER_SCAN, SYNTH_SIZES, listImplantSources, writeCohort, writeImplantCohort, type SynthSize } from '../../synth/index.js';

const usage = `usage: lungtumor synth --out DIR [--cases N] [--seed S] [--size small|medium|full] [--collapse] [--force] [--quiet]
       lungtumor synth --into DIR --out DIR [--per-scan N] [--seed S] [--collapse] [--force] [--quiet]

Writes a synthetic thoracic CT cohort with known tumours, in the challenge's layout:
  DIR/train/volume/SYN-0001_vol.nii.gz        CT, int16 HU
  DIR/train/seg/SYN-0001_seg.nii.gz           primary tumour mask, uint8 0/1
  DIR/train/lungs_seg/SYN-0001_lungseg.nii.gz lungs (without the tumour), uint8 0/1
  DIR/train/metadata.csv                      clinical and technical fields, one row per case
                                              (clinical fields are sometimes empty, as in real data)

Each case has one primary tumour (1 to 8 cm; round, lobulated, spiculated or part-solid;
inside the lung, against the chest wall or against the mediastinum), 0-4 distractor nodules
(3-12 mm and smaller than the tumour, labelled 0), vessel and airway trees, ribs, spine, heart,
noise, and LPS or RAS voxel order.

With --into DIR, the tumours are implanted into the real scans of DIR instead (its training
cases, DIR/train/volume, with or without tumour masks, or a DICOM cohort of CT series with or
without RTSTRUCTs; never a test folder): per scan N cases
<ID>-IMP1..N, each the scan with one implant (solid, part-solid or pure ground glass, 1-8 cm;
inside the lung, against the chest wall, the mediastinum or the hilum; with --collapse some with
consolidated lung beside them), its HU and texture drawn from the ranges of DIR's own tumours.
The seg mask is the implant, or the scan's own tumour where that stays the larger (then the
implant is an unlabelled distractor; ground glass is only drawn large enough to be the primary);
the scan's own tumour is never painted over. Lungs come
from DIR/train/lungs_seg when present, else from lungtumor's lung finder. Crops cut around
their tumour (lungs reaching the scan's edges) are skipped. metadata.csv has a row per implant.

options:
  --out DIR        output folder (required). It must not exist or be empty, unless --force.
                   The cohort is built under a temporary name beside DIR and renamed into
                   place when complete, so DIR never holds a half-written cohort.
  --cases N        number of cases, 1-${MAX_CASES} (default 10)
  --seed S         whole number 0-4294967295 (default 1). The same seed gives byte-identical
                   files; case i depends only on (seed, i), so 5 cases are a prefix of 10.
  --size SIZE      small: 96x96x48 voxels, ~4 mm in-plane, for tests (default)
                   medium: 160x160x80, ~2.2 mm in-plane, ~4 mm slices (the demo)
                   full:  512x512 in-plane, 0.6-1.0 mm, 90-300 slices of 1-5 mm, like real scans
  --collapse       a harder cohort: 40 % of tumours of 2 cm or more get a wedge of collapsed or
                   consolidated lung against them (soft tissue, not tumour). Without it the
                   cases are exactly those of the same seed made before this option existed.
  --into DIR       implant into the real scans of this cohort (see above)
  --per-scan N     with --into: implants per source scan, each its own case, 1-${MAX_IMPLANTS_PER_SCAN} (default 2)
  --force          replace DIR if it exists and is not empty (only once the new cohort is complete)
  --quiet          no progress output
  -h, --help       this help
`;

export const synthCommand: Command = {
  name: 'synth',
  summary: 'write a synthetic CT cohort with known tumours (challenge layout)',
  usage,
  async run(args) {
    const v = parseCommandArgs(synthCommand, args, {
      out: { type: 'string' },
      cases: { type: 'string' },
      seed: { type: 'string' },
      size: { type: 'string' },
      force: { type: 'boolean' },
      collapse: { type: 'boolean' },
      into: { type: 'string' },
      'per-scan': { type: 'string' },
      quiet: { type: 'boolean' },
    });
    if (!v) return 0;
    const out = requireOption(v.out, 'out');
    if (v.into !== undefined) {
      if (v.cases !== undefined || v.size !== undefined) throw new InputError('', '--cases and --size are for synthetic thoraxes; with --into use --per-scan');
      const perScan = intOption(v['per-scan'], 'per-scan', 2);
      if (perScan < 1 || perScan > MAX_IMPLANTS_PER_SCAN) throw new InputError('', `--per-scan must be from 1 to ${MAX_IMPLANTS_PER_SCAN}, got ${perScan}`);
      const seed = intOption(v.seed, 'seed', 1);
      if (seed < 0 || seed > 0xffffffff) throw new InputError('', `--seed must be from 0 to 4294967295, got ${seed}`);
      const sources = listImplantSources(v.into).length;
      const progress = new Progress('implant', sources * perScan, process.stderr, v.quiet ?? false);
      const result = await writeImplantCohort(v.into, out, {
        perScan,
        seed,
        collapse: v.collapse ?? false,
        force: v.force ?? false,
        onCase: (id) => progress.tick(id),
        onSkip: (id, why) => {
          progress.tick(id);
          if (!v.quiet) process.stderr.write(`skipped ${id}: ${why}\n`);
        },
      });
      if (!v.quiet) {
        const p = result.priors;
        const r = (x: [number, number]): string => `${x[0].toFixed(0)}..${x[1].toFixed(0)}`;
        process.stderr.write(`HU drawn from: solid ${r(p.solidHu)}, ground glass ${r(p.groundGlassHu)}, texture SD ${r(p.textureSdHu)} (solid) and ${r(p.groundGlassSdHu)} (ground glass) (${p.fromTumours.length ? `from the tumours of ${p.fromTumours.join(', ')}` : 'defaults: no labelled tumours'})\n`);
        process.stderr.write(`wrote ${result.rows.length} implanted cases to ${out}\n`);
      }
      return 0;
    }
    if (v['per-scan'] !== undefined) throw new InputError('', '--per-scan needs --into');
    const cases = intOption(v.cases, 'cases', 10);
    if (cases < 1 || cases > MAX_CASES) throw new InputError('', `--cases must be from 1 to ${MAX_CASES}, got ${cases}`);
    const seed = intOption(v.seed, 'seed', 1);
    if (seed < 0 || seed > 0xffffffff) throw new InputError('', `--seed must be from 0 to 4294967295, got ${seed}`);
    const size = (v.size ?? 'small') as SynthSize;
    if (!SYNTH_SIZES.includes(size)) throw new InputError('', `--size must be one of ${SYNTH_SIZES.join(', ')}, got '${v.size}'`);
    const progress = new Progress('synth', cases, process.stderr, v.quiet ?? false);
    const result = await writeCohort(out, { cases, seed, size, collapse: v.collapse ?? false, force: v.force ?? false, onCase: (id) => progress.tick(id) });
    if (!v.quiet) process.stderr.write(`wrote ${result.ids.length} cases to ${out}\n`);
    return 0;
  },
};
