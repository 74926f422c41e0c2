/**
 * Splitting a cohort across the tasks of a job array (Slurm `--array`, a Kubernetes Indexed Job):
 * part K of N takes the cases whose position in the cohort sorted by case id is K-1 modulo N, so
 * every case belongs to exactly one part, whatever machine runs it.
 */

/** Part `index` (1-based) of `count`. */
export interface Shard {
  index: number;
  count: number;
}

/** Parses 'K/N' (whole numbers, 1 ≤ K ≤ N); throws an Error saying what is wrong. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`--shard must be K/N (e.g. 2/8: part 2 of 8), got '${text}'`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index < 1 || index > count) throw new Error(`--shard ${text}: K must be from 1 to N`);
  return { index, count };
}

/** The items of a part, in case-id order; all items (in case-id order) without a shard. */
export function shardItems<T>(items: readonly T[], idOf: (item: T) => string, shard: Shard | undefined): T[] {
  const sorted = [...items].sort((a, b) => (idOf(a) < idOf(b) ? -1 : idOf(a) > idOf(b) ? 1 : 0));
  return shard ? sorted.filter((_, i) => i % shard.count === shard.index - 1) : sorted;
}

/** 'K-of-N', for file names and log lines. */
export function shardLabel(shard: Shard): string {
  return `${shard.index}-of-${shard.count}`;
}
