import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Temporary names carry the host and the process id, so that a later run can tell the leftovers
 * of a killed process (kill -9, a crash, a node lost) from work in progress, also when several
 * machines of a job array write into one shared folder.
 */
const hostTag = (): string => hostname().replace(/[^A-Za-z0-9.-]/g, '_');

function tempSibling(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${hostTag()}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sayRemoved = (path: string, log: (line: string) => void): void => log(`removed ${path}, left by a process that no longer runs`);

/**
 * Removes from `dir` the temporary files and folders (see tempSibling) that a process of this host
 * which no longer runs left behind, saying so through `log`. Those of other hosts, and of live
 * processes, are kept. A missing folder has none.
 */
export function removeStaleTemporaries(dir: string, log: (line: string) => void): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const host = hostTag();
  for (const name of names) {
    const m = /^\..+\.tmp-(.+)-(\d+)-[0-9a-f]{8}$/.exec(name);
    if (!m || m[1] !== host || processIsAlive(Number(m[2]))) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
    sayRemoved(join(dir, name), log);
  }
}

/** Removes the folders under the system's temporary folder that withTempDir(prefix) made for processes that no longer run, saying so through `log`. */
export function removeStaleTempDirs(prefix: string, log: (line: string) => void): void {
  for (const name of readdirSync(tmpdir())) {
    const m = name.startsWith(`${prefix}-`) ? /^(\d+)-/.exec(name.slice(prefix.length + 1)) : null;
    if (!m || processIsAlive(Number(m[1]))) continue;
    rmSync(join(tmpdir(), name), { recursive: true, force: true });
    sayRemoved(join(tmpdir(), name), log);
  }
}

/** Writes a file so that readers see either the old content or the whole new one, never a part. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempSibling(path);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Builds a whole folder under a temporary name, then renames it into place, replacing
 * any folder already there only once the new one is complete.
 */
export async function writeDirAtomic(path: string, build: (tmpDir: string) => Promise<void> | void): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempSibling(path);
  mkdirSync(tmp);
  await removedOnExit(tmp, async () => {
    await build(tmp);
    if (existsSync(path)) {
      const old = tempSibling(path);
      renameSync(path, old);
      renameSync(tmp, path);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, path);
    }
  });
}

/**
 * Runs `work` with `path` removed if it fails, or if the process exits meanwhile (an interrupt ends
 * the process through process.exit: see the CLI's exitOnSignals).
 */
async function removedOnExit<T>(path: string, work: () => Promise<T>): Promise<T> {
  const remove = (): void => rmSync(path, { recursive: true, force: true });
  process.once('exit', remove);
  try {
    return await work();
  } catch (err) {
    remove();
    throw err;
  } finally {
    process.off('exit', remove);
  }
}

/**
 * Runs `work` with a new temporary folder (under the system's, named `<prefix>-<pid>-…`) that is
 * removed when it ends, however it ends: also when the process exits on an interrupt.
 */
export async function withTempDir<T>(prefix: string, work: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-${process.pid}-`));
  try {
    return await removedOnExit(dir, () => work(dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
