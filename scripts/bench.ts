/**
 * `npm run bench [-- --model DIR] [--out FILE] [--full-synthetic N] [--workers N] [--gpu]`
 *
 * Wall time of each inference stage and in total, peak RSS and scan size, per scan: the real scans
 * in ../shared/data/real (skipped when absent) and full-size synthetic scans. Each scan is segmented
 * by `lungtumor predict` in its own process, so its peak RSS is its own. Without --model, a model is
 * first trained (fast config) on a small synthetic cohort, and its training time per case is reported.
 * With --gpu, each real scan is also segmented with --device gpu (WebGPU features) for comparison.
 * Writes JSON (default bench-out/bench.json) and prints it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../src/core/atomic.js';
import { listNiftiFiles } from '../src/io/cohort.js';
import { packageRoot } from '../src/pipeline/model-folder.js';

const cli = fileURLToPath(new URL('../src/cli/run.js', import.meta.url));

function run(args: string[]): void {
  const r = spawnSync(process.execPath, [cli, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`lungtumor ${args[0]} failed with exit code ${r.status}`);
}

function predictOne(model: string, file: string, work: string, workers: number, device = 'cpu'): Record<string, unknown> {
  const out = join(work, 'pred');
  const t0 = performance.now();
  run(['predict', '--model', model, '--input', file, '--out', out, '--workers', String(workers), '--device', device, '--quiet']);
  const wall = (performance.now() - t0) / 1000;
  const log = JSON.parse(readFileSync(join(out, 'prediction_log.json'), 'utf8')) as { cases: Record<string, unknown>[] };
  const c = log.cases[0]!;
  rmSync(out, { recursive: true, force: true });
  return { ...c, process_wall_seconds: Math.round(wall * 1000) / 1000 };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      out: { type: 'string' },
      gpu: { type: 'boolean' },
      'full-synthetic': { type: 'string' },
      workers: { type: 'string' },
    },
  });
  const root = packageRoot();
  const outFile = resolve(values.out ?? join(root, 'bench-out', 'bench.json'));
  const workers = Number(values.workers ?? 2);
  const work = mkdtempSync(join(tmpdir(), 'lungtumor-bench-'));
  try {
    const result: Record<string, unknown> = { node: process.versions.node, workers, date: new Date().toISOString() };
    let model = values.model;
    if (!model) {
      const cases = 8;
      run(['synth', '--out', join(work, 'train'), '--cases', String(cases), '--seed', '1', '--size', 'small']);
      model = join(work, 'model');
      const t0 = performance.now();
      run(['train', '--data', join(work, 'train'), '--model', model, '--seed', '1', '--config', 'fast', '--quiet', '--workers', String(workers)]);
      const secs = (performance.now() - t0) / 1000;
      result.training = { config: 'fast', cases, size: 'small', seconds: round(secs), seconds_per_case: round(secs / cases) };
    } else {
      result.training = JSON.parse(readFileSync(join(model, 'training_log.json'), 'utf8'));
    }
    result.model = model;
    const real = resolve(root, '..', 'shared', 'data', 'real', 'train', 'volume');
    // The feature stage on each path: the TypeScript path always, the WebGPU one with --gpu
    // (any adapter, llvmpipe included; a failure is recorded, not fatal).
    const onGpu = (f: string): unknown => {
      try {
        const c = predictOne(model!, f, work, workers, 'gpu') as { seconds: Record<string, number> };
        return { features: c.seconds.features, total: c.seconds.total };
      } catch (err) {
        return `unavailable: ${(err as Error).message}`;
      }
    };
    result.real = existsSync(real)
      ? listNiftiFiles(real).map((f) => {
        process.stderr.write(`bench: ${f}\n`);
        const c = predictOne(model!, f, work, workers);
        return values.gpu ? { ...c, gpu: onGpu(f) } : c;
      })
      : 'skipped: ../shared/data/real is absent';
    const nFull = Number(values['full-synthetic'] ?? 2);
    if (nFull > 0) {
      run(['synth', '--out', join(work, 'full'), '--cases', String(nFull), '--seed', '7', '--size', 'full']);
      result.synthetic_full = listNiftiFiles(join(work, 'full', 'train', 'volume')).map((f) => { process.stderr.write(`bench: ${f}\n`); return predictOne(model!, f, work, workers); });
    }
    const text = `${JSON.stringify(result, null, 2)}\n`;
    writeFileAtomic(outFile, text);
    process.stdout.write(text);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

await main();
