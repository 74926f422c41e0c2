import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

function tempSibling(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
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
