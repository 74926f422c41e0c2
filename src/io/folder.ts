/** A folder on disk as a FolderReader (see src/core/folder.ts). */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { FolderReader } from '../core/folder.js';

export function diskFolder(dir: string): FolderReader {
  return {
    where: (name) => join(dir, name),
    size(name) {
      try {
        const st = statSync(join(dir, name));
        return st.isFile() ? st.size : null;
      } catch {
        return null;
      }
    },
    read: (name) => readFileSync(join(dir, name)),
  };
}
