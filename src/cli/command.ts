import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../core/errors.js';

/** One `lungtumor <name>` subcommand. Shells only: parse arguments, call the typed core. */
export interface Command {
  name: string;
  /** One line for `lungtumor --help`. */
  summary: string;
  /** The full `--help` text. */
  usage: string;
  /** Returns the process exit code. */
  run(args: string[]): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses a subcommand's arguments strictly (unknown options are a UsageError).
 * Returns null when --help was asked for (the usage is already printed).
 */
export function parseCommandArgs<O extends Options>(cmd: Command, args: string[], options: O) {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${cmd.usage.trimEnd()}\n`);
    return null;
  }
  try {
    return parseArgs({ args, options, allowPositionals: false, strict: true }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function requireOption<T>(value: T | undefined, name: string): T {
  if (value === undefined || value === '') throw new UsageError(`missing required option --${name}`);
  return value;
}

export function intOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new UsageError(`--${name} must be a whole number, got '${value}'`);
  return n;
}
