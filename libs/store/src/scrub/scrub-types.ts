/** Options of the background scrub ({@link StoreOptions.scrub}). */
export interface ScrubOptions {
  /**
   * Most bytes read per second, log and tree together, averaged (bursts up to one second's
   * worth). Default 1 MiB/s.
   */
  readonly rateBytesPerSecond?: number;
  /** A pass starts this long after the previous one started (or right after it, when slower). Default 24 h. */
  readonly periodMs?: number;
  /** Wait before the first pass (the store has just opened). Default 60 s. */
  readonly startDelayMs?: number;
  /** Called once for each damaged place when it is first found (to log it). */
  readonly onDamage?: (damage: ScrubDamage) => void;
}

/** One damaged place the scrub found. */
export interface ScrubDamage {
  /** `log`: a sealed log segment; `tree`: a tree segment. */
  readonly kind: 'log' | 'tree';
  readonly file: string;
  /** Byte offset of the damaged record or block in the file. */
  readonly offset: number;
  readonly reason: string;
  /** When it was first found (ISO 8601). */
  readonly foundAt: string;
}

/** The scrub as `Store.scrubStatus()` (and `/v1/status`) shows it. */
export interface ScrubStatus {
  /** `waiting` between passes, `running` during one, `failed` after a read error (see `error`). */
  readonly state: 'waiting' | 'running' | 'stopped' | 'failed';
  readonly rateBytesPerSecond: number;
  readonly periodMs: number;
  /** Full passes finished since the store opened. */
  readonly passes: number;
  /** When the last full pass ended (ISO 8601), `null` before the first. */
  readonly lastFullPassAt: string | null;
  readonly lastPassDurationMs: number | null;
  /** Bytes read and verified since the store opened. */
  readonly verifiedBytes: number;
  /** Bytes read by the pass under way. */
  readonly currentPassVerifiedBytes: number;
  /** What the last full pass and the current one found (files that are gone drop out). */
  readonly damage: readonly ScrubDamage[];
  readonly error: { readonly code: string; readonly message: string } | null;
}

const MIB = 1024 * 1024;

/** Scrub defaults. */
export const SCRUB_DEFAULTS = {
  // Verification runs on the event loop and costs it about 15-30 ms per MiB (`npm run
  // bench:scrub`), so 1 MiB/s takes a few percent of it, and still scrubs a 10 GiB node about every
  // three hours.
  rateBytesPerSecond: 1 * MIB,
  periodMs: 24 * 60 * 60 * 1000,
  startDelayMs: 60_000,
} as const;
