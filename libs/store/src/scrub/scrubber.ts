import { isStrataError } from '@strata/core';
import type { FileSystem } from '@strata/core';
import { verifySegment } from '@strata/engine';
import type { Tree } from '@strata/engine';
import type { SegmentInfo, Wal } from '@strata/wal';
import type { BackgroundJobs } from '../background-jobs.js';
import { checkLogSegments } from '../log-check.js';
import { RatePacer, sleep } from './rate-pacer.js';
import type { ScrubDamage, ScrubOptions, ScrubStatus } from './scrub-types.js';

/** What the scrub reads from the store. */
export interface ScrubSource {
  readonly wal: Wal;
  readonly tree: Tree;
  readonly jobs: BackgroundJobs;
  readonly fileSystem: FileSystem;
}

/**
 * The background scrub: pass after pass, re-reads every sealed log segment (every record's
 * checksum, structure and chain, as `Store.checkLog` does) and every tree segment (every block,
 * as `strata verify` does) at no more than `rateBytesPerSecond`, starting a pass every
 * `periodMs` (or right after the previous one, when a pass takes longer). It reads through the
 * file system, not the block cache, so a block damaged on disk is found even while a good copy
 * is cached. One file is held at a time: a log segment by pinning retention, a tree segment with
 * `Tree.holdSegment`, each released as soon as it is read, so compaction and retention are never
 * held up for longer than one file. Damage is reported (status, `onDamage`), never repaired: the
 * reads that meet it fail with `CORRUPTION` as they always do.
 */
export class Scrubber {
  private readonly controller = new AbortController();
  private readonly pacer: RatePacer;
  private running: Promise<void> | undefined;
  private state: ScrubStatus['state'] = 'waiting';
  private passes = 0;
  private lastFullPassAtMs: number | undefined;
  private lastPassDurationMs: number | undefined;
  private verifiedBytes = 0;
  private passVerifiedBytes = 0;
  /**
   * Bytes verified but not yet charged to the pacer (charged once they reach PACE_UNIT_BYTES, and
   * at the end of each pass, so that passes smaller than that unit keep to the rate too).
   */
  private unpacedBytes = 0;
  private lastPassBytes = 0;
  /** Damage found by the last full pass and the current one, by `file@offset`. */
  private damage = new Map<string, ScrubDamage>();
  private passDamage = new Map<string, ScrubDamage>();
  private error: { code: string; message: string } | undefined;

  constructor(
    private readonly source: ScrubSource,
    private readonly options: Required<Omit<ScrubOptions, 'onDamage'>> &
      Pick<ScrubOptions, 'onDamage'>,
  ) {
    this.pacer = new RatePacer(options.rateBytesPerSecond, this.controller.signal);
  }

  /** Starts the passes (the first after `startDelayMs`). */
  start(): void {
    this.running ??= this.run();
  }

  /** Stops the scrub (before the store closes its files) and waits for it. */
  async stop(): Promise<void> {
    this.controller.abort();
    await this.running;
    this.state = 'stopped';
  }

  /** Where the scrub is and what it found. */
  status(): ScrubStatus {
    const damage = new Map([...this.damage, ...this.passDamage]);
    return {
      state: this.state,
      rateBytesPerSecond: this.options.rateBytesPerSecond,
      periodMs: this.options.periodMs,
      passes: this.passes,
      lastFullPassAt:
        this.lastFullPassAtMs === undefined ? null : new Date(this.lastFullPassAtMs).toISOString(),
      lastPassDurationMs: this.lastPassDurationMs ?? null,
      verifiedBytes: this.verifiedBytes,
      currentPassVerifiedBytes: this.state === 'running' ? this.passVerifiedBytes : 0,
      damage: [...damage.values()],
      error: this.error ?? null,
    };
  }

  private async run(): Promise<void> {
    const signal = this.controller.signal;
    try {
      await sleep(this.options.startDelayMs, signal);
      for (;;) {
        const started = Date.now();
        this.state = 'running';
        await this.pass();
        this.passes++;
        this.lastPassBytes = this.passVerifiedBytes;
        this.lastFullPassAtMs = Date.now();
        this.lastPassDurationMs = this.lastFullPassAtMs - started;
        this.damage = this.passDamage;
        this.passDamage = new Map();
        this.state = 'waiting';
        // A pass that found nothing to read (no sealed log, no tree yet) waits a second at least,
        // rather than turning the event loop over pass after pass with `periodMs: 0`.
        const idleMs = this.lastPassBytes === 0 ? NOTHING_TO_SCRUB_WAIT_MS : 0;
        await sleep(Math.max(idleMs, started + this.options.periodMs - Date.now()), signal);
      }
    } catch (error) {
      if (signal.aborted || isStrataError(error, 'CLOSED')) return;
      const code = (error as { code?: unknown }).code;
      this.error = {
        code: typeof code === 'string' ? code : 'INTERNAL',
        message: error instanceof Error ? error.message : String(error),
      };
      this.state = 'failed';
    }
  }

  /** One full pass: the sealed log segments, then the tree's segments. */
  private async pass(): Promise<void> {
    this.passVerifiedBytes = 0;
    const { wal, tree, jobs, fileSystem } = this.source;
    // The log check paces itself record by record, and a record may be a hundred bytes: a wait
    // (a timer or an immediate) for each cost about 45 ms of event loop per MiB of single-put
    // records, four times the check itself. Bytes are gathered and the pacer is asked once per
    // PACE_UNIT_BYTES instead; a `pace(0)` (a yield between runs of decoded blocks) still waits.
    const pace = (bytes: number): Promise<void> => {
      this.passVerifiedBytes += bytes;
      this.verifiedBytes += bytes;
      this.unpacedBytes += bytes;
      if (bytes > 0 && this.unpacedBytes < PACE_UNIT_BYTES) return ALREADY;
      const taken = this.unpacedBytes;
      this.unpacedBytes = 0;
      return this.pacer.take(taken);
    };
    const sealed = wal
      .segments()
      .filter(
        (segment): segment is SegmentInfo & { lastSeqno: number } =>
          !segment.active && segment.lastSeqno !== undefined,
      );
    for (const listed of sealed) {
      const unpin = jobs.pinLog();
      try {
        // Still retained? (Retention may have dropped it since the list was made.)
        const segment = wal.segments().find((s) => s.path === listed.path && !s.active);
        if (segment === undefined || segment.lastSeqno === undefined) continue;
        await checkLogSegments(wal, [segment as SegmentInfo & { lastSeqno: number }], {
          signal: this.controller.signal,
          pace,
          onDamage: (found) => this.found({ kind: 'log', ...found }),
        });
      } finally {
        unpin();
      }
      this.controller.signal.throwIfAborted();
    }
    for (const id of tree.levelSegmentIds().flat()) {
      const held = tree.holdSegment(id);
      if (held === undefined) continue; // compacted away since the list was made
      try {
        await verifySegment(held.segment, { fileSystem, pace });
      } catch (error) {
        if (!isStrataError(error, 'CORRUPTION')) throw error;
        const file =
          typeof error.details.file === 'string' ? error.details.file : held.segment.path;
        this.found({
          kind: 'tree',
          file,
          offset: error.details.offset ?? 0,
          reason: reasonOf(error.message),
        });
      } finally {
        held.release();
      }
    }
    // What this pass verified below one unit is charged now: otherwise a store smaller than a
    // unit would be scrubbed pass after pass at no rate at all.
    const rest = this.unpacedBytes;
    this.unpacedBytes = 0;
    await this.pacer.take(rest);
  }

  private found(damage: Omit<ScrubDamage, 'foundAt'>): void {
    const key = `${damage.file}@${damage.offset}`;
    if (this.passDamage.has(key)) return;
    const known = this.damage.get(key);
    const entry: ScrubDamage = known ?? { ...damage, foundAt: new Date().toISOString() };
    this.passDamage.set(key, entry);
    if (known === undefined) this.options.onDamage?.(entry);
  }
}

/** The least wait after a pass that had nothing to read. */
const NOTHING_TO_SCRUB_WAIT_MS = 1_000;

/** Bytes verified between two waits for the rate (well under a second's worth at any sane rate). */
const PACE_UNIT_BYTES = 64 * 1024;

const ALREADY: Promise<void> = Promise.resolve();

/** The reason part of a corruption message (`corruption in <file> at offset <n>: <reason>`). */
function reasonOf(message: string): string {
  const match = /^corruption in .* at offset \d+: (.*)$/s.exec(message);
  return match?.[1] ?? message;
}
