import { posix } from 'node:path';
import { invariant } from '@strata/core';
import type { TreeConfig } from './config.js';
import type { JobCancellation } from './compaction/job-cancellation.js';
import type { JobRunner } from './compaction/job-runner.js';
import { writerSettingsFor } from './compaction/merge-job.js';
import { SEGMENTS_FOLDER, segmentPath } from './file-names.js';
import type { VersionSet } from './levels/version-set.js';
import type { Memtable } from './memtable/memtable.js';
import type { SnapshotTracker } from './read/snapshot-tracker.js';
import { metadataFromJson } from './segment/metadata.js';
import type { Segment } from './segment/segment.js';
import { SerialQueue } from './util/serial-queue.js';

/**
 * Writes sealed memtables to level-0 segments: the job runs in a worker with the real file system
 * (inline with a simulated one) and drops the versions no open snapshot can see. Flushes that go
 * through {@link serially} run one at a time, in order, so level 0 receives memtables in the order
 * they were sealed.
 *
 * @example
 * ```ts
 * const segment = await flusher.write(sealed.id, sealed.memtable);
 * versions.addToLevel0([segment]);
 * ```
 */
export class Flusher {
  private readonly queue = new SerialQueue();

  constructor(
    private readonly config: TreeConfig,
    private readonly jobs: JobRunner,
    private readonly versions: VersionSet,
    private readonly snapshots: SnapshotTracker,
    private readonly cancellation: JobCancellation,
  ) {}

  /** Writes `memtable` to the segment `id` and returns the segment, not yet registered. */
  async write(id: number, memtable: Memtable): Promise<Segment> {
    const [json] = await this.jobs.run({
      kind: 'flush',
      memtable: memtable.toShared(),
      folder: posix.join(this.config.path, SEGMENTS_FOLDER),
      segmentId: id,
      writer: writerSettingsFor(this.config, 0),
      gcWatermark: this.snapshots.gcWatermark(),
      nowMs: Date.now(),
      cancel: this.cancellation.flag,
    });
    invariant(json !== undefined, 'flush of a non-empty memtable wrote no segment');
    return this.versions.openSegment(metadataFromJson(json, segmentPath(this.config.path, id)));
  }

  /** Runs `flush` after every flush queued before it has settled. */
  serially<T>(flush: () => Promise<T>): Promise<T> {
    return this.queue.run(flush);
  }

  /** Settles once the flushes queued so far have. */
  idle(): Promise<void> {
    return this.queue.idle();
  }
}
