/**
 * Read-only access to the files of one folder by name (a model folder): a folder on disk in Node
 * (`diskFolder` in src/io/folder.ts), files held in memory in the browser. Loading a model goes
 * through this, so the same loader serves the CLI and the web page.
 */
export interface FolderReader {
  /** Where the file is, for messages: a path on disk, or the file's name in a named set. */
  where(name: string): string;
  /** Size in bytes, or null when there is no such file. */
  size(name: string): number | null;
  /** The file's bytes; throws when there is no such file. */
  read(name: string): Uint8Array;
}

/** Files held in memory (e.g. a model shipped inside a web page), labelled for messages. */
export function memoryFolder(label: string, files: Readonly<Record<string, Uint8Array>>): FolderReader {
  const has = (name: string): boolean => Object.prototype.hasOwnProperty.call(files, name);
  return {
    where: (name) => `${label}/${name}`,
    size: (name) => (has(name) ? files[name]!.length : null),
    read(name) {
      if (!has(name)) throw new Error(`${label}/${name}: no such file`);
      return files[name]!;
    },
  };
}

/** A file's bytes as UTF-8 text. */
export function readText(folder: FolderReader, name: string): string {
  return new TextDecoder().decode(folder.read(name));
}
