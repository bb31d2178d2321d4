import { posix } from 'node:path';
import { invariant } from '@strata/core';
import type { TreeConfig } from '../config.js';
import { SEGMENTS_FOLDER, segmentPath } from '../file-names.js';
import type { VersionSet } from '../levels/version-set.js';
import type { MemtableSet } from '../memtable/memtable-set.js';
import type { SnapshotTracker } from '../read/snapshot-tracker.js';
import { metadataFromJson, metadataToJson } from '../segment/metadata.js';
import type { Segment } from '../segment/segment.js';
import { SerialQueue } from '../util/serial-queue.js';
import type { JobCancellation } from './job-cancellation.js';
import type { JobRunner } from './job-runner.js';
import { writerSettingsFor } from './merge-job.js';
import type { CompactionStrategy, CompactionView } from './strategy.js';

/**
 * What one compaction step did: `merge` read its inputs and wrote its outputs, `move` put
 * segments on another level (nothing read or written: no inputs, no outputs), `drop` removed
 * whole segments (its inputs, unread).
 */
export interface CompactionStepResult {
  readonly kind: 'merge' | 'move' | 'drop';
  /** Segments the step took out of the levels (merged or dropped). */
  readonly inputSegments: number;
  /** Bytes of their files. */
  readonly inputBytes: number;
  /** Segments the step wrote. */
  readonly outputSegments: number;
  /** Bytes of their files. */
  readonly outputBytes: number;
}

/** What a compactor works with: the tree's parts, and its open check. */
export interface CompactorParts {
  readonly config: TreeConfig;
  readonly jobs: JobRunner;
  readonly versions: VersionSet;
  readonly memtables: MemtableSet;
  readonly snapshots: SnapshotTracker;
  /** Cancels merge jobs when the tree closes. */
  readonly cancellation: JobCancellation;
  /** Throws `CLOSED` once the tree is closed; a queued compaction checks it when it starts. */
  readonly checkOpen: () => void;
}

/**
 * Runs compaction steps, one at a time: asks a strategy what to do with the current levels, then
 * drops segments, moves them to another level, or merges them in a job (a worker thread with the
 * real file system) and installs the outputs in their place. Each step ends with the manifest
 * written; replaced segments are deleted once no reader uses them.
 *
 * @example
 * ```ts
 * await compactor.compact(new LeveledStrategy());
 * ```
 */
export class Compactor {
  private readonly queue = new SerialQueue();
  private requested = 0;

  constructor(private readonly parts: CompactorParts) {}

  /**
   * Runs one step chosen by `strategy`, after the steps queued before it; resolves with what it
   * did, or `undefined` when the strategy had nothing to do.
   */
  compact(strategy: CompactionStrategy): Promise<CompactionStepResult | undefined> {
    // Counted from the call on, so isCompacting() is true as soon as a compaction is requested.
    this.requested++;
    return this.queue
      .run(() => this.runStep(strategy))
      .finally(() => {
        this.requested--;
      });
  }

  /** True while a compaction is queued or running. */
  isCompacting(): boolean {
    return this.requested > 0;
  }

  /** Settles once the compactions queued so far have. */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  private async runStep(strategy: CompactionStrategy): Promise<CompactionStepResult | undefined> {
    const { config, versions } = this.parts;
    this.parts.checkOpen();
    const choice = strategy.choose(this.view());
    const current = versions.current;
    if (choice.kind === 'none') return undefined;
    if (choice.kind === 'drop') {
      const ids = new Set(choice.ids);
      const dropped = current.allSegments().filter((s) => ids.has(s.id));
      versions.install(current.derive({ remove: ids }));
      await versions.persist();
      for (const segment of dropped) versions.markObsolete(segment);
      return {
        kind: 'drop',
        inputSegments: dropped.length,
        inputBytes: dropped.reduce((sum, s) => sum + s.meta.fileSizeBytes, 0),
        outputSegments: 0,
        outputBytes: 0,
      };
    }
    if (choice.kind === 'move') {
      const ids = new Set(choice.ids);
      const moved = current.allSegments().filter((s) => ids.has(s.id));
      versions.install(
        current.derive({
          remove: ids,
          add: moved.map((segment) => ({ level: choice.destLevel, segment })),
        }),
      );
      await versions.persist();
      return { kind: 'move', inputSegments: 0, inputBytes: 0, outputSegments: 0, outputBytes: 0 };
    }
    const ids = new Set(choice.inputIds);
    const inputs = current.allSegments().filter((s) => ids.has(s.id));
    invariant(inputs.length === ids.size, 'compaction input is not in the current version');
    invariant(
      choice.destLevel >= 0 && choice.destLevel < config.levelCount,
      'compaction destination level out of range',
    );
    const minInputLevel = Math.min(...inputs.map((s) => current.levelOf(s.id)));
    const olderRanges = current.levels
      .flatMap((level, n) => (n >= Math.max(1, minInputLevel) ? level : []))
      .filter((s) => !ids.has(s.id))
      .map((s) => ({ minKey: s.meta.minKey, maxKey: s.meta.maxKey }));
    const inputBytes = inputs.reduce((sum, s) => sum + s.meta.fileSizeBytes, 0);
    const idCount = Math.ceil((inputBytes * 4) / choice.targetSegmentSizeBytes) + inputs.length + 4;
    const firstSegmentId = versions.reserveSegmentIds(idCount);
    versions.hold(inputs); // held by the job
    let outputs: Segment[];
    try {
      const metas = await this.parts.jobs.run({
        kind: 'compact',
        inputs: inputs.map((s) => ({ path: s.path, meta: metadataToJson(s.meta) })),
        folder: posix.join(config.path, SEGMENTS_FOLDER),
        firstSegmentId,
        segmentIdCount: idCount,
        writer: writerSettingsFor(config, choice.destLevel),
        targetSegmentSizeBytes: choice.targetSegmentSizeBytes,
        gcWatermark: this.parts.snapshots.gcWatermark(),
        olderRanges,
        cancel: this.parts.cancellation.flag,
      });
      outputs = metas.map((json) =>
        versions.openSegment(metadataFromJson(json, segmentPath(config.path, json.id))),
      );
    } catch (error) {
      await this.removeUnregisteredOutputs(firstSegmentId, idCount);
      throw error;
    } finally {
      versions.letGo(inputs);
    }
    versions.install(
      versions.current.derive({
        remove: ids,
        add: outputs.map((segment) => ({ level: choice.destLevel, segment })),
      }),
    );
    await versions.persist();
    for (const segment of inputs) versions.markObsolete(segment);
    return {
      kind: 'merge',
      inputSegments: inputs.length,
      inputBytes,
      outputSegments: outputs.length,
      outputBytes: outputs.reduce((sum, s) => sum + s.meta.fileSizeBytes, 0),
    };
  }

  /** What the strategy chooses from. */
  private view(): CompactionView {
    const { config, versions, memtables } = this.parts;
    // Level-0 segments newer than a sealed memtable still being flushed are held back: merging
    // them down before the older data lands in level 0 would let that older data shadow them.
    const oldestSealed = memtables.oldestSealedId();
    return {
      levels: versions.current.levels.map((level, n) =>
        level.filter((s) => n > 0 || s.id < oldestSealed).map((s) => s.meta),
      ),
      targetSegmentSizeBytes: config.targetSegmentSizeBytes,
      nowMs: Date.now(),
    };
  }

  /** Deletes outputs a failed compaction finished before it failed (else recovery would). */
  private async removeUnregisteredOutputs(firstId: number, count: number): Promise<void> {
    const { config } = this.parts;
    for (let id = firstId; id < firstId + count; id++) {
      const path = segmentPath(config.path, id);
      try {
        if (await config.fileSystem.exists(path)) await config.fileSystem.unlink(path);
      } catch {
        // Left for the next recovery, which removes segment files the manifest does not list.
      }
    }
  }
}
