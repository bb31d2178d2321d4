// Over 400 lines, for a stated reason: recovery is one decision (trust the clean-close marker, or
// scan; torn tail cut, or CORRUPTION; quarantine under `skip`), and its helpers are only called
// from here. verifySegment and checkOrder, which reads and verify also use, may move to their own
// file when this one grows.
import { join } from 'node:path';
import { corruptionError, crc32c, errnoOf, invariant, ioError, StrataError } from '@strata/core';
import type { FileHandle, FileSystem } from '@strata/core';
import type { ResolvedWalOptions } from '../options.js';
import { readCleanCloseMarker, removeCleanCloseMarker } from '../segments/clean-close-marker.js';
import type { CleanCloseMarker } from '../segments/clean-close-marker.js';
import {
  RECORD_HEADER_BYTES,
  newRecordHeader,
  nextChain,
  scanPayload,
} from '../format/record-format.js';
import {
  RecordScanner,
  ShortReadError,
  containsValidRecord,
  describeDamage,
} from '../format/record-scanner.js';
import type { DamageKind } from '../format/record-scanner.js';
import { classifyTailDamage } from './torn-tail.js';
import type { TailVerdict } from './torn-tail.js';
import { maybeIndex, newSegmentFile, parseSegmentFileName } from '../segments/segment-file.js';
import { makeSegmentPrivate } from '../segments/private-segment.js';
import { removeSeekIndexFile, removeUnusableSeekIndexFiles } from '../segments/seek-index-file.js';
import type { SegmentFile } from '../segments/segment-file.js';
import type { LogTail } from '../format/log-tail.js';

/** What `open` found and repaired. */
export interface RecoveryReport {
  /** Segment files found. */
  readonly segmentCount: number;
  /** Segments whose every record was verified during open. */
  readonly verifiedSegmentCount: number;
  /** True when the last close was clean and its marker let open skip scanning the last segment. */
  readonly cleanClose?: boolean;
  /**
   * A torn tail cut off the last segment, if any: what a crash during an append leaves (an
   * incomplete last record, maybe followed by zeros: `incomplete`; only zeros: `zeros`). A damaged
   * complete record is never cut here: it fails open with CORRUPTION (see torn-tail.ts).
   */
  readonly tornTail?: {
    readonly file: string;
    readonly offset: number;
    readonly droppedBytes: number;
    readonly damage: DamageKind;
  };
  /** Under `point-in-time` recovery: where the log was cut and what was set aside. */
  readonly pointInTime?: {
    readonly file: string;
    readonly offset: number;
    readonly reason: string;
    /** The first seqno that is no longer in the log. */
    readonly droppedFromSeqno: number;
    readonly droppedBytes: number;
    /** Segments moved out of the log, with the cut-off tail bytes, in this directory. */
    readonly quarantineDirectory: string;
    readonly droppedFiles: readonly string[];
  };
}

/** Result of {@link recoverLog}. */
export interface RecoveredLog {
  readonly segments: SegmentFile[];
  readonly tail: LogTail | undefined;
  readonly report: RecoveryReport;
}

interface Damage {
  readonly segmentIndex: number;
  readonly offset: number;
  readonly reason: string;
  readonly kind: DamageKind | 'sequence' | 'chain' | 'epoch';
}

/**
 * Lists, verifies and repairs the segments of a log directory (see {@link RecoveryMode}). The
 * directory must exist. Torn tails are cut and fsynced here; nothing else is ever modified in
 * `strict` mode, except that a writable open removes seek-index sidecars no sealed segment can use.
 */
export async function recoverLog(
  directory: string,
  options: ResolvedWalOptions,
): Promise<RecoveredLog> {
  const { names, ...recovered } = await recoverSegments(directory, options);
  // The names listed before recovery: recovery writes no seek-index file, so none is missed.
  if (!options.readOnly)
    await removeUnusableSeekIndexFiles(options.fileSystem, directory, recovered.segments, names);
  return recovered;
}

async function recoverSegments(
  directory: string,
  options: ResolvedWalOptions,
): Promise<RecoveredLog & { readonly names: readonly string[] }> {
  const fs = options.fileSystem;
  const pointInTime = options.recovery === 'point-in-time';
  const removeMarker = (pointInTime || options.verifyOnOpen === 'full') && !options.readOnly;
  // Read while the directory is listed (it never rejects): four round trips fewer in a row.
  const markerRead = removeMarker ? undefined : readCleanCloseMarker(fs, directory);
  const { segments, names } = await listSegments(fs, directory);
  let scanFrom = 0;
  if (!pointInTime && options.verifyOnOpen === 'tail') {
    scanFrom = Math.max(0, segments.length - 1);
    while (scanFrom > 0 && segments[scanFrom]?.sizeBytes === 0) scanFrom--;
  }
  let tail: LogTail | undefined;
  let tornTail: RecoveryReport['tornTail'];
  let verified = 0;
  if (markerRead === undefined) {
    await removeCleanCloseMarker(fs, directory).catch((error: unknown) => {
      throw ioError('remove clean-close marker', directory, error);
    });
  } else {
    const trusted = await trustCleanClose(fs, await markerRead, segments, options);
    if (trusted) {
      fillLastSeqnos(segments);
      return {
        segments,
        tail: trusted,
        report: { segmentCount: segments.length, verifiedSegmentCount: 0, cleanClose: true },
        names,
      };
    }
  }
  for (let index = scanFrom; index < segments.length; index++) {
    const segment = segments[index] as SegmentFile;
    const isLast = index === segments.length - 1;
    const outcome = await verifySegment(fs, segment, tail, options);
    if (outcome.damage === undefined) {
      tail = outcome.tail ?? tail;
      verified++;
      if (!isLast && segment.sizeBytes === 0) {
        throw corruptionError(segment.path, 0, 'a sealed segment is empty');
      }
      continue;
    }
    let damage: Damage = { ...outcome.damage, segmentIndex: index };
    // Only the end of the last segment can hold an interrupted append; torn-tail.ts decides
    // whether the bytes there are what a crash leaves or damage to records already written.
    if (isLast && isScannerDamage(damage.kind)) {
      const verdict = await classifyLastSegmentDamage(
        fs,
        segment,
        damage.offset,
        damage.kind,
        options,
      );
      if (!verdict.torn) damage = { ...damage, reason: verdict.reason };
      else if (
        !(await validDataFollows(
          fs,
          segment,
          damage.offset,
          outcome.tail?.lastSeqno ?? tail?.lastSeqno ?? 0,
          options,
        ))
      ) {
        tornTail = {
          file: segment.path,
          offset: damage.offset,
          droppedBytes: segment.sizeBytes - damage.offset,
          damage: verdict.kind,
        };
        if (options.readOnly) segment.sizeBytes = damage.offset;
        else {
          await removeSidecars(fs, directory, [segment]);
          if (await truncateSegment(fs, segment, damage.offset)) {
            await fs.syncDirectory(directory).catch((error: unknown) => {
              throw ioError('fsync directory', directory, error);
            });
          }
        }
        segment.indexed = true;
        tail = outcome.tail ?? tail;
        verified++;
        continue;
      }
    }
    if (!pointInTime)
      throw corruptionError(segment.path, damage.offset, damage.reason, { damage: damage.kind });
    tail = outcome.tail ?? tail;
    const expectedSeqno = tail ? tail.lastSeqno + 1 : segment.firstSeqno;
    const cut = await quarantineFrom(fs, directory, segments, damage, expectedSeqno);
    const kept = damage.offset === 0 && index > 0 ? index : index + 1;
    return {
      segments: segments.slice(0, kept),
      tail,
      report: {
        segmentCount: segments.length,
        verifiedSegmentCount: verified,
        ...(tornTail ? { tornTail } : {}),
        pointInTime: cut,
      },
      names,
    };
  }
  // A torn tail may have emptied the last segment: the tail is then the end of an earlier one.
  for (let index = scanFrom - 1; tail === undefined && index >= 0; index--) {
    const segment = segments[index] as SegmentFile;
    const outcome = await verifySegment(fs, segment, undefined, options);
    if (outcome.damage)
      throw corruptionError(segment.path, outcome.damage.offset, outcome.damage.reason, {
        damage: outcome.damage.kind,
      });
    tail = outcome.tail;
    verified++;
    const next = segments[index + 1] as SegmentFile;
    if (tail && tail.lastSeqno + 1 !== next.firstSeqno) {
      throw corruptionError(
        next.path,
        0,
        `segment starts at seqno ${next.firstSeqno} but the previous one ends at ${tail.lastSeqno}`,
      );
    }
  }
  fillLastSeqnos(segments);
  return {
    segments,
    tail,
    report: {
      segmentCount: segments.length,
      verifiedSegmentCount: verified,
      ...(tornTail ? { tornTail } : {}),
    },
    names,
  };
}

/** Sealed segments that were not scanned: their last seqno follows from the next segment's name. */
function fillLastSeqnos(segments: SegmentFile[]): void {
  for (let index = 0; index < segments.length - 1; index++) {
    const segment = segments[index] as SegmentFile;
    segment.lastSeqno ??= (segments[index + 1] as SegmentFile).firstSeqno - 1;
  }
}

/**
 * After a clean close, trusts the marker instead of scanning the last segment, if the segment is
 * still the last one, has the recorded size, and its last record is intact and matches.
 */
async function trustCleanClose(
  fs: FileSystem,
  marker: CleanCloseMarker | undefined,
  segments: SegmentFile[],
  options: ResolvedWalOptions,
): Promise<LogTail | undefined> {
  const last = segments[segments.length - 1];
  if (
    !marker ||
    !last ||
    last.firstSeqno !== marker.segmentFirstSeqno ||
    last.sizeBytes !== marker.sizeBytes
  )
    return undefined;
  const recordBytes = marker.sizeBytes - marker.lastRecordOffset;
  if (recordBytes <= RECORD_HEADER_BYTES || recordBytes > options.maxRecordBytes) return undefined;
  const handle = await openForRead(fs, last.path);
  const bytes = Buffer.alloc(recordBytes);
  try {
    // A small record, written before the last close (in the page cache, usually), is read
    // synchronously: less than a threadpool round trip. A large one must not block the loop.
    const read =
      recordBytes <= SYNCHRONOUS_READ_MAX_BYTES
        ? handle.readSync(bytes, 0, recordBytes, marker.lastRecordOffset)
        : await handle.read(bytes, 0, recordBytes, marker.lastRecordOffset);
    if (read !== recordBytes) return undefined;
  } finally {
    await handle.close();
  }
  const header = newRecordHeader();
  const checksum = bytes.readUInt32LE(4);
  const intact =
    bytes.readUInt32LE(0) === recordBytes - RECORD_HEADER_BYTES &&
    crc32c(bytes.subarray(RECORD_HEADER_BYTES)) === checksum &&
    scanPayload(bytes, RECORD_HEADER_BYTES, recordBytes, header) &&
    checksum === marker.tail.checksum &&
    header.chain === marker.tail.chain &&
    header.epoch === marker.tail.epoch &&
    header.firstSeqno + header.entryCount - 1 === marker.tail.lastSeqno;
  if (!intact) return undefined;
  last.indexSeqnos = [...marker.indexSeqnos];
  last.indexOffsets = [...marker.indexOffsets];
  last.indexed = true;
  last.lastSeqno = marker.tail.lastSeqno;
  last.lastChain = marker.tail.chain;
  last.lastChecksum = marker.tail.checksum;
  last.lastEpoch = marker.tail.epoch;
  last.lastRecordOffset = marker.lastRecordOffset;
  return marker.tail;
}

/**
 * The log's segment files in seqno order (sizes and times from stat, nothing read yet), and the
 * names of everything in the directory.
 */
export async function listSegments(
  fs: FileSystem,
  directory: string,
): Promise<{ segments: SegmentFile[]; names: string[] }> {
  let names: string[];
  try {
    names = await fs.readdir(directory);
  } catch (error) {
    // A read-only open of a data directory that has no log yet sees an empty log.
    if (errnoOf(error) === 'ENOENT') return { segments: [], names: [] };
    throw error;
  }
  // Every segment's stat at once: a threadpool round trip for the log, not one per segment.
  const segments = await Promise.all(
    names.flatMap((name) => {
      const firstSeqno = parseSegmentFileName(name);
      if (firstSeqno === undefined) return [];
      return [
        fs
          .stat(join(directory, name))
          .then((stat) => newSegmentFile(directory, firstSeqno, stat.sizeBytes, stat.modifiedAtMs)),
      ];
    }),
  );
  segments.sort((a, b) => a.firstSeqno - b.firstSeqno);
  return { segments, names };
}

interface SegmentOutcome {
  /** The last good record in this segment, if it has one. */
  readonly tail: LogTail | undefined;
  /** Good records before the end or the damage. */
  readonly recordCount: number;
  readonly damage: Omit<Damage, 'segmentIndex'> | undefined;
}

/**
 * Reads every record of `segment`, checking checksum, structure, seqno continuity (starting at
 * the file name's seqno), chain (from `previous`, when known) and epoch order; builds the seek
 * index and fills in the segment's last-record fields. Stops at the first damage.
 */
export async function verifySegment(
  fs: FileSystem,
  segment: SegmentFile,
  previous: LogTail | undefined,
  options: ResolvedWalOptions,
): Promise<SegmentOutcome> {
  segment.indexSeqnos = [];
  segment.indexOffsets = [];
  if (previous && previous.lastSeqno + 1 !== segment.firstSeqno) {
    return {
      tail: undefined,
      recordCount: 0,
      damage: {
        offset: 0,
        kind: 'sequence',
        reason: `segment starts at seqno ${segment.firstSeqno} but the previous one ends at ${previous.lastSeqno}`,
      },
    };
  }
  const handle = await openForRead(fs, segment.path);
  try {
    // Nothing of a record is kept past its step (its header fields are copied): one reused
    // buffer, not a fresh chunk per refill.
    const scanner = new RecordScanner(
      handle,
      0,
      segment.sizeBytes,
      options.readChunkBytes,
      options.maxRecordBytes,
      true,
    );
    let last = previous;
    let lastInSegment: LogTail | undefined;
    let expectedSeqno = segment.firstSeqno;
    let recordCount = 0;
    let lastRecordOffset = 0;
    const finish = (damage: SegmentOutcome['damage']): SegmentOutcome => {
      if (lastInSegment) {
        segment.lastRecordOffset = lastRecordOffset;
        segment.lastSeqno = lastInSegment.lastSeqno;
        segment.lastChain = lastInSegment.chain;
        segment.lastChecksum = lastInSegment.checksum;
        segment.lastEpoch = lastInSegment.epoch;
      }
      if (!damage) segment.indexed = true;
      return { tail: lastInSegment, recordCount, damage };
    };
    while (true) {
      let outcome;
      try {
        outcome = await scanner.next();
      } catch (error) {
        if (error instanceof ShortReadError)
          throw corruptionError(segment.path, error.endOffset, 'file is shorter than its size');
        throw ioError('read', segment.path, error);
      }
      if (outcome === 'end') break;
      if (outcome === 'damaged') {
        return finish({
          offset: scanner.offset,
          kind: scanner.damage,
          reason: describeDamage(scanner.damage),
        });
      }
      const header = scanner.header;
      const problem = checkOrder(
        header.firstSeqno,
        expectedSeqno,
        header.chain,
        header.epoch,
        last,
      );
      if (problem) return finish({ offset: scanner.offset, ...problem });
      maybeIndex(segment, header.firstSeqno, scanner.offset, options.indexIntervalBytes);
      lastRecordOffset = scanner.offset;
      lastInSegment = {
        lastSeqno: header.firstSeqno + header.entryCount - 1,
        chain: header.chain,
        checksum: scanner.checksum,
        epoch: header.epoch,
      };
      last = lastInSegment;
      expectedSeqno = lastInSegment.lastSeqno + 1;
      recordCount++;
    }
    return finish(undefined);
  } finally {
    await handle.close();
  }
}

/** Checks a record against the one before it; returns what is wrong, or undefined. */
export function checkOrder(
  firstSeqno: number,
  expectedSeqno: number,
  chain: number,
  epoch: number,
  previous: LogTail | undefined,
): { kind: 'sequence' | 'chain' | 'epoch'; reason: string } | undefined {
  if (firstSeqno !== expectedSeqno) {
    return {
      kind: 'sequence',
      reason: `record has seqno ${firstSeqno}, expected ${expectedSeqno}`,
    };
  }
  if (previous && chain !== nextChain(previous.chain, previous.checksum)) {
    return {
      kind: 'chain',
      reason: `record at seqno ${firstSeqno} does not chain from the record before it`,
    };
  }
  if (previous && epoch < previous.epoch) {
    return {
      kind: 'epoch',
      reason: `record at seqno ${firstSeqno} has epoch ${epoch}, below ${previous.epoch}`,
    };
  }
  return undefined;
}

/** The largest last record {@link trustCleanClose} reads synchronously. */
const SYNCHRONOUS_READ_MAX_BYTES = 64 * 1024;

async function openForRead(fs: FileSystem, path: string): Promise<FileHandle> {
  try {
    return await fs.open(path, 'read');
  } catch (error) {
    throw ioError('open', path, error);
  }
}

function isScannerDamage(kind: Damage['kind']): kind is DamageKind {
  return kind === 'incomplete' || kind === 'zeros' || kind === 'checksum' || kind === 'malformed';
}

async function classifyLastSegmentDamage(
  fs: FileSystem,
  segment: SegmentFile,
  offset: number,
  kind: DamageKind,
  options: ResolvedWalOptions,
): Promise<TailVerdict> {
  const handle = await openForRead(fs, segment.path);
  try {
    return await classifyTailDamage(
      handle,
      segment.path,
      offset,
      segment.sizeBytes,
      kind,
      options.maxRecordBytes,
    );
  } finally {
    await handle.close();
  }
}

async function validDataFollows(
  fs: FileSystem,
  segment: SegmentFile,
  offset: number,
  afterSeqno: number,
  options: ResolvedWalOptions,
): Promise<boolean> {
  const length = segment.sizeBytes - offset - 1;
  if (length <= 0) return false;
  const handle = await openForRead(fs, segment.path);
  try {
    const bytes = Buffer.alloc(length);
    let filled = 0;
    while (filled < length) {
      const count = await handle.read(bytes, filled, length - filled, offset + 1 + filled);
      if (count === 0) break;
      filled += count;
    }
    return containsValidRecord(bytes.subarray(0, filled), afterSeqno, options.maxRecordBytes);
  } finally {
    await handle.close();
  }
}

/** Removes the seek-index sidecars of `segments`, durably, before they are cut or moved. */
async function removeSidecars(
  fs: FileSystem,
  directory: string,
  segments: readonly SegmentFile[],
): Promise<void> {
  let removedAny = false;
  try {
    for (const segment of segments) {
      segment.seekHint = undefined;
      if (await removeSeekIndexFile(fs, segment)) removedAny = true;
    }
    if (removedAny) await fs.syncDirectory(directory);
  } catch (error) {
    throw ioError('remove seek index', directory, error);
  }
}

/**
 * Cuts `segment` at `offset`, durably. A segment shared with a checkpoint (a hard link) is copied up
 * to the cut instead (makeSegmentPrivate), and the caller then fsyncs the directory: the other log
 * keeps its file whole. Returns true when it copied.
 */
async function truncateSegment(
  fs: FileSystem,
  segment: SegmentFile,
  offset: number,
): Promise<boolean> {
  if (await makeSegmentPrivate(fs, segment.path, offset)) {
    segment.sizeBytes = offset;
    return true;
  }
  let handle: FileHandle | undefined;
  try {
    handle = await fs.open(segment.path, 'read-write');
    await handle.truncate(offset);
    await handle.datasync();
  } catch (error) {
    throw ioError('truncate', segment.path, error);
  } finally {
    await handle?.close();
  }
  segment.sizeBytes = offset;
  return false;
}

async function quarantineFrom(
  fs: FileSystem,
  directory: string,
  segments: SegmentFile[],
  damage: Damage,
  droppedFromSeqno: number,
): Promise<NonNullable<RecoveryReport['pointInTime']>> {
  const damaged = segments[damage.segmentIndex];
  invariant(damaged, 'damaged segment index out of range');
  const droppedFiles: string[] = [];
  let droppedBytes = 0;
  // A new folder each time, also when an earlier recovery that a crash cut short made one under
  // the same name (within the same millisecond).
  const stamp = `dropped-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  let quarantine = join(directory, stamp);
  try {
    for (let attempt = 1; await fs.exists(quarantine); attempt++) {
      quarantine = join(directory, `${stamp}-${attempt}`);
    }
    // The sidecars of the cut segment and of those set aside go first (a cut segment may grow
    // back to the same size with other records); the quarantine keeps only log bytes.
    await removeSidecars(fs, directory, segments.slice(damage.segmentIndex));
    await fs.mkdir(quarantine);
    // A segment damaged at its very start goes whole (its name may not continue the log), unless
    // it is the only one. Otherwise keep a copy of the cut-off bytes for forensics, then truncate.
    const wholeSegment = damage.offset === 0 && damage.segmentIndex > 0;
    const tailBytes = wholeSegment
      ? Buffer.alloc(0)
      : (await fs.readFile(damaged.path)).subarray(damage.offset);
    const tailCopy = join(
      quarantine,
      `${damaged.path.split('/').pop() ?? 'segment'}.from-${damage.offset}`,
    );
    if (!wholeSegment) {
      const copy = await fs.open(tailCopy, 'create-exclusive');
      try {
        await copy.writev([tailBytes], 0);
        await copy.datasync();
      } finally {
        await copy.close();
      }
      droppedFiles.push(tailCopy);
      droppedBytes += tailBytes.length;
    }
    for (const later of segments.slice(damage.segmentIndex + (wholeSegment ? 0 : 1))) {
      const target = join(quarantine, later.path.split('/').pop() ?? '');
      await fs.rename(later.path, target);
      droppedFiles.push(target);
      droppedBytes += later.sizeBytes;
    }
    await fs.syncDirectory(quarantine);
    // The moves out of the log's directory are durable before the cut: a power loss between a
    // durable cut and this fsync would bring the later segments back behind the cut, a hole.
    await fs.syncDirectory(directory);
    if (!wholeSegment) await truncateSegment(fs, damaged, damage.offset);
    await fs.syncDirectory(directory);
  } catch (error) {
    if (error instanceof StrataError) throw error;
    throw ioError('point-in-time recovery', directory, error);
  }
  damaged.indexed = true;
  damaged.lastSeqno = droppedFromSeqno - 1 >= damaged.firstSeqno ? droppedFromSeqno - 1 : undefined;
  return {
    file: damaged.path,
    offset: damage.offset,
    reason: damage.reason,
    droppedFromSeqno,
    droppedBytes,
    quarantineDirectory: quarantine,
    droppedFiles,
  };
}
