import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../core/errors.js';
import { parseFeatureDevice, type FeatureDevice } from '../features/gpu.js';
import { parseShard, type Shard } from '../core/shard.js';
import { TRAIN_CONFIGS, type TrainConfig } from '../pipeline/config.js';

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

/** The options every command that walks a training cohort shares: --data, --roi, --config, --workers, --device. */
export interface CohortOptions {
  dataDirs: string[];
  /** RTSTRUCT ROI of the tumour in DICOM cohorts. */
  roi?: string;
  config: TrainConfig;
  workers: number;
  device: FeatureDevice;
}

export function cohortOptions(o: { data?: string[]; roi?: string; config?: string; workers?: string; device?: string }): CohortOptions {
  const dataDirs = o.data ?? [];
  if (dataDirs.length === 0) throw new UsageError('missing required option --data');
  const name = o.config ?? 'default';
  if (name !== 'default' && name !== 'fast') throw new UsageError(`--config must be 'default' or 'fast', got '${name}'`);
  if (o.roi === '') throw new UsageError('--roi needs a name');
  return { dataDirs, ...(o.roi !== undefined ? { roi: o.roi } : {}), config: TRAIN_CONFIGS[name], workers: workersOption(o.workers), device: deviceOption(o.device) };
}

export function workersOption(value: string | undefined): number {
  const workers = intOption(value, 'workers', 2);
  if (workers < 0) throw new UsageError('--workers must be 0 or more');
  return workers;
}

export function deviceOption(value: string | undefined): FeatureDevice {
  try {
    return parseFeatureDevice(value ?? 'auto');
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** --shard K/N, or undefined when not given. */
export function shardOption(value: string | undefined): Shard | undefined {
  if (value === undefined) return undefined;
  try {
    return parseShard(value);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
