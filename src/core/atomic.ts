import { mkdirSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
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
  try {
    await build(tmp);
    if (existsSync(path)) {
      const old = tempSibling(path);
      renameSync(path, old);
      renameSync(tmp, path);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, path);
    }
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
