/** Shared test helpers: temp folders, the real-data folder, running the CLI. */
import { mkdtempSync, rmSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Repository root: the nearest folder above the compiled test holding lungtumor's package.json. */
export const repoRoot = ((): string => {
  let dir = fileURLToPath(new URL('.', import.meta.url));
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj) && (JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'lungtumor') return dir;
    const up = resolve(dir, '..');
    if (up === dir) throw new Error('tests: cannot find the lungtumor repository root');
    dir = up;
  }
})();

/** `../shared/data/real` beside the checkout, or null when absent (tests then skip). */
export function realDataDir(): string | null {
  const dir = resolve(repoRoot, '..', 'shared', 'data', 'real');
  return existsSync(join(dir, 'train', 'volume')) ? dir : null;
}

/** `../shared/data/dicom` (DICOM originals of some real scans) beside the checkout, or null when absent. */
export function dicomDataDir(): string | null {
  const dir = resolve(repoRoot, '..', 'shared', 'data', 'dicom');
  return existsSync(join(dir, 'LUNG1-001', 'ct')) ? dir : null;
}

export function tempDir(t?: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'lungtumor-test-'));
  t?.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Path of the compiled CLI entry, next to this compiled file. */
const cliMain = fileURLToPath(new URL('../src/cli/run.js', import.meta.url));

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Starts `lungtumor ...args` in a child process and returns at once. */
export function startCli(args: string[]): ChildProcess {
  return spawn(process.execPath, [cliMain, ...args], { cwd: repoRoot, stdio: 'ignore' });
}

/** Runs `lungtumor ...args` in a child process. */
export function runCli(args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): CliResult {
  const r = spawnSync(process.execPath, [cliMain, ...args], {
    cwd: opts.cwd ?? repoRoot,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 300_000,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs `lungtumor ...args` in a child process without blocking, so that several can run at once. */
export function runCliAsync(args: string[]): Promise<CliResult> {
  const child = spawn(process.execPath, [cliMain, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
  });
}

/** Every file below `dir`, as sorted paths relative to it. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else out.push(relative(dir, join(d, e.name)));
    }
  };
  walk(dir);
  return out.sort();
}
