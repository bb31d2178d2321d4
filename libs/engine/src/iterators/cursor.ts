import type { ValueKindCode } from '../entry.js';

/** The cursor is positioned on an entry, or {@link Cursor.done}. */
export const READY = 0;
/** The cursor must read from disk: await {@link Cursor.resume} before anything else. */
export const NEEDS_IO = 1;
/** Outcome of a cursor step. */
export type CursorStatus = typeof READY | typeof NEEDS_IO;

/** Iteration direction. */
export type Direction = 'forward' | 'backward';

/** A starting point: a key and whether entries of that key itself are skipped. */
export interface SeekBound {
  readonly key: Uint8Array;
  readonly exclusive: boolean;
}

/**
 * A one-directional cursor over versioned entries: forward in (key asc, seqno desc) order,
 * backward in exactly the reverse order.
 *
 * Steps are synchronous while data is in memory and report {@link NEEDS_IO} when a block must be
 * read; the caller then awaits {@link resume}. This keeps scans free of a promise per entry.
 */
export interface Cursor {
  /** True when exhausted. */
  readonly done: boolean;
  /** Current key (valid while not done). */
  readonly key: Buffer;
  readonly seqno: number;
  readonly kind: ValueKindCode;
  /** Current value. */
  value(): Buffer;
  /** Positions on the first entry (at or after the seek bound given at construction). */
  start(): CursorStatus;
  /** Moves to the next entry. */
  advance(): CursorStatus;
  /** Completes a step that returned {@link NEEDS_IO}. */
  resume(): Promise<void>;
}

/** Runs a step to completion, awaiting I/O only when needed. */
export async function settle(cursor: Cursor, status: CursorStatus): Promise<void> {
  let s = status;
  while (s === NEEDS_IO) {
    await cursor.resume();
    s = READY;
  }
}
