// Several rounds of the replication benchmark folded into one result: every figure is the median
// of that figure over the rounds, and the figures the targets judge keep their spread.
import { median, range } from '../runner/stats.js';
import type { SetupResult } from './phases.js';

/** The smallest and largest value a figure took over the rounds. */
export interface Spread {
  readonly min: number;
  readonly max: number;
}

/** The figures the targets judge, per setup, over the rounds. */
export interface SetupSpread {
  readonly lagP99At10kMs: Spread;
  readonly catchUpEntriesPerSec: Spread;
  readonly followerVsLeaderAtTop: Spread;
}

/**
 * The median of each numeric field over `values` (objects of one shape: one setup's result from
 * each round). Nulls count as missing; a field null in every round stays null. Booleans are true
 * if any round's was (a stall in one round is a stall), strings and string lists come from every
 * round (lists concatenated, each entry tagged with its round).
 */
export function medianOfRounds<T>(values: readonly T[]): T {
  return fold(values) as T;
}

function fold(values: readonly unknown[]): unknown {
  const present = values.filter((value) => value !== null && value !== undefined);
  const first = present[0];
  if (first === undefined) return values[0] ?? null;
  if (typeof first === 'number') return median(present as number[]);
  if (typeof first === 'boolean') return present.some(Boolean);
  if (typeof first === 'string') return first;
  if (Array.isArray(first)) {
    return values.flatMap((value, round) =>
      Array.isArray(value) ? value.map((entry) => `round ${round + 1}: ${String(entry)}`) : [],
    );
  }
  const folded: Record<string, unknown> = {};
  for (const key of Object.keys(first)) {
    folded[key] = fold(present.map((value) => (value as Record<string, unknown>)[key]));
  }
  return folded;
}

/** The spread over the rounds of the figures the targets judge. */
export function spreadOf(rounds: readonly SetupResult[]): SetupSpread {
  return {
    lagP99At10kMs: range(rounds.map((setup) => setup.lag.at10k.lagP99Ms)),
    catchUpEntriesPerSec: range(rounds.map((setup) => setup.catchUp.entriesPerSec)),
    followerVsLeaderAtTop: range(rounds.map((setup) => setup.lag.top.followerVsLeader)),
  };
}
