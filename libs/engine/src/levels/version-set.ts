import type { TreeConfig } from '../config.js';
import { segmentPath } from '../file-names.js';
import type { SegmentMetadata } from '../segment/metadata.js';
import { Segment } from '../segment/segment.js';
import type { SegmentContext } from '../segment/segment.js';
import { SerialQueue } from '../util/serial-queue.js';
import { higherSeqno } from '../util/seqno.js';
import type { ManifestState } from './manifest.js';
import { writeManifest } from './manifest.js';
import { Version } from './version.js';

/**
 * The tree's current {@link Version} and what the levels manifest records beside it: the next
 * segment id and the flushed seqno. It replaces the version (a flush registered, a compaction
 * done), writes the manifest after each change, one write at a time, and deletes a segment file
 * once the segment is obsolete and no version or job uses it any more.
 *
 * @example
 * ```ts
 * const versions = new VersionSet(config, context, manifest);
 * versions.addToLevel0([segment]);
 * await versions.persist();
 * ```
 */
export class VersionSet {
  private currentVersion: Version;
  private nextId: number;
  private flushed: number | undefined;
  private readonly manifestWrites = new SerialQueue();
  private readonly deletions = new Set<Promise<void>>();

  constructor(
    private readonly config: TreeConfig,
    private readonly context: SegmentContext,
    manifest: ManifestState,
    /**
     * The tree's creation being committed (see `Tree.create`): a manifest write replaces the
     * manifest the creation wrote, so it waits for that commit, and fails when it failed.
     */
    private readonly created: Promise<void> = Promise.resolve(),
  ) {
    this.nextId = manifest.nextSegmentId;
    this.flushed = manifest.flushedSeqno;
    this.currentVersion = Version.arrange(
      manifest.levels.map((level) => level.map((meta) => this.openSegment(meta))),
      (segment) => this.onSegmentUnused(segment),
    );
    this.currentVersion.acquire();
  }

  /** The version reads start from; pin it (`acquire`) before awaiting anything. */
  get current(): Version {
    return this.currentVersion;
  }

  /** The id the next segment (or sealed memtable) gets. */
  get nextSegmentId(): number {
    return this.nextId;
  }

  /** Highest seqno ever registered from a flush, `undefined` before the first. */
  get flushedSeqno(): number | undefined {
    return this.flushed;
  }

  /** Reserves `count` consecutive segment ids; returns the first. */
  reserveSegmentIds(count: number): number {
    const first = this.nextId;
    this.nextId += count;
    return first;
  }

  /** Makes sure ids from now on are above `id` (a sealed memtable recovered under it). */
  reserveUpTo(id: number): void {
    if (id >= this.nextId) this.nextId = id + 1;
  }

  /** A segment of this tree from its metadata (its file is opened lazily). */
  openSegment(meta: SegmentMetadata): Segment {
    return new Segment(meta, segmentPath(this.config.path, meta.id), this.context);
  }

  /** Makes `next` the current version; readers of the previous one keep it until they let go. */
  install(next: Version): void {
    const previous = this.currentVersion;
    next.acquire();
    this.currentVersion = next;
    previous.release();
  }

  /** Adds flushed segments to level 0 and raises the flushed seqno to theirs. */
  addToLevel0(segments: readonly Segment[]): void {
    this.install(
      this.currentVersion.derive({ add: segments.map((segment) => ({ level: 0, segment })) }),
    );
    for (const segment of segments) {
      this.flushed = higherSeqno(this.flushed, segment.meta.maxSeqno);
    }
  }

  /**
   * Writes the manifest (after any write still running), with the state at the time it is
   * written, so the last write always records the last state.
   */
  persist(): Promise<void> {
    return this.manifestWrites.run(async () => {
      await this.created;
      await writeManifest(this.config.fileSystem, this.config.path, {
        nextSegmentId: this.nextId,
        flushedSeqno: this.flushed,
        levels: this.currentVersion.levels.map((level) => level.map((s) => s.meta)),
      });
    });
  }

  /** Highest seqno in the segments and the flushed seqno kept beside them. */
  highestPersistedSeqno(): number | undefined {
    return highestPersistedSeqno(this.currentVersion, this.flushed);
  }

  /** Pins segments for a job that reads them outside any version. */
  hold(segments: readonly Segment[]): void {
    for (const segment of segments) segment.refCount++;
  }

  /** Lets go of segments held by {@link hold}; an obsolete one no one uses is deleted. */
  letGo(segments: readonly Segment[]): void {
    for (const segment of segments) {
      if (--segment.refCount === 0) this.onSegmentUnused(segment);
    }
  }

  /** Marks a segment replaced; its file goes once nothing uses it. */
  markObsolete(segment: Segment): void {
    segment.obsolete = true;
    if (segment.refCount === 0) this.deleteSegment(segment);
  }

  /** Settles once the manifest writes queued so far have. */
  manifestWritten(): Promise<void> {
    return this.manifestWrites.idle();
  }

  /** Settles once the segment files being deleted are gone (or left for recovery). */
  async deletionsDone(): Promise<void> {
    await Promise.all([...this.deletions]);
  }

  private onSegmentUnused(segment: Segment): void {
    if (segment.obsolete) this.deleteSegment(segment);
  }

  private deleteSegment(segment: Segment): void {
    segment.release();
    const deletion = this.config.fileSystem.unlink(segment.path).catch(() => {
      // A file that cannot be deleted now is an orphan the next recovery removes.
    });
    this.deletions.add(deletion);
    void deletion.finally(() => this.deletions.delete(deletion));
  }
}

/** The highest seqno of a version's segments and of the flushed seqno kept beside them. */
export function highestPersistedSeqno(
  version: Version,
  flushedSeqno: number | undefined,
): number | undefined {
  let highest = flushedSeqno;
  for (const segment of version.allSegments()) {
    highest = higherSeqno(highest, segment.meta.maxSeqno);
  }
  return highest;
}
