import { ClusterMeta } from '@strata/replication';
import type { MetaSnapshot } from '@strata/replication';
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { Command } from 'commander';
import { StrataError } from '@strata/core';
import { describeDataDirectory } from '../offline/data-directory-info.js';
import type { DataDirectoryInfo } from '../offline/data-directory-info.js';
import { describeError, displayKey, formatTable } from './output.js';
import type { CommandIo } from './output.js';
import { dataDirectory } from '@strata/store';

interface InspectFlags {
  readonly data: string;
  readonly json?: boolean;
}

/** `strata inspect`: log segments, levels and segments, last seqno and epoch. */
export function inspectCommand(io: CommandIo): Command {
  return new Command('inspect')
    .description(
      'show log segments, tree levels and segments, last seqno and epoch (read-only: safe next to a running node)',
    )
    .requiredOption('--data <dir>', 'data directory')
    .option('--json', 'print JSON instead of tables')
    .action(async (flags: InspectFlags) => {
      process.exitCode = await runInspect(flags, io);
    });
}

/** Runs `inspect`; resolves with the exit code. */
export async function runInspect(flags: InspectFlags, io: CommandIo): Promise<number> {
  try {
    if (!existsSync(flags.data)) {
      throw new StrataError('INVALID_ARGUMENT', `data directory ${flags.data} does not exist`);
    }
    const info = await describeDataDirectory(flags.data);
    // Cluster metadata (read-only; safe next to a running node).
    const meta = ClusterMeta.readSnapshot(dataDirectory(flags.data).metaFile);
    io.stdout.write(
      flags.json
        ? `${JSON.stringify({ ...(toJson(info) as object), cluster: meta ?? null }, null, 2)}\n`
        : toText(info) + clusterText(meta),
    );
    return 0;
  } catch (error) {
    io.stderr.write(describeError('inspect', error));
    return 1;
  }
}

function toJson(info: DataDirectoryInfo): unknown {
  return {
    directory: info.directory,
    format: info.format ?? null,
    lock: info.lock ?? null,
    lastSeqno: info.lastSeqno,
    epoch: info.epoch,
    log: {
      firstSeqno: info.firstSeqno ?? null,
      segments: info.log.map((segment) => ({ ...segment, lastSeqno: segment.lastSeqno ?? null })),
      tornTail: info.tornTail ?? null,
    },
    tree: info.tree
      ? {
          flushedSeqno: info.tree.flushedSeqno,
          nextSegmentId: info.tree.nextSegmentId,
          levels: info.tree.levels.map((segments, level) => ({
            level,
            segments,
          })),
        }
      : null,
  };
}

function clusterText(meta: MetaSnapshot | undefined): string {
  if (!meta) return '\ncluster: (standalone: no meta.sqlite)\n';
  let out = `\ncluster ${meta.cluster}, node ${meta.nodeId}, epoch ${meta.term.epoch}, leader ${meta.term.leaderId ?? '(unknown)'}${meta.term.leaderUrl ? ` at ${meta.term.leaderUrl}` : ''}\n`;
  out += formatTable(
    ['peer', 'url', 'role', 'epoch', 'applied', 'durable', 'last contact'],
    meta.peers.map((peer) => [
      peer.nodeId,
      peer.url,
      peer.role,
      String(peer.epoch),
      String(peer.appliedSeqno),
      String(peer.durableSeqno),
      new Date(peer.lastContactMs).toISOString(),
    ]),
  );
  out += `checkpoints: ${meta.checkpoints.length === 0 ? '(none)' : meta.checkpoints.map((checkpoint) => `${checkpoint.kind} seqno ${checkpoint.seqno} from ${checkpoint.location}`).join('; ')}\n`;
  return out;
}

function toText(info: DataDirectoryInfo): string {
  let out = `data directory  ${info.directory}\n`;
  out += `format          ${info.format ?? '(none)'}\n`;
  out += `lock            ${info.lock ? `pid ${info.lock.pid} (${info.lock.running ? 'running' : 'not running'})` : 'free'}\n`;
  out += `last seqno      ${info.lastSeqno}\n`;
  out += `epoch           ${info.epoch}\n`;
  out += `\nlog segments (${info.log.length})\n`;
  out += formatTable(
    ['file', 'first seqno', 'last seqno', 'size bytes'],
    info.log.map((segment) => [
      basename(segment.file),
      String(segment.firstSeqno),
      segment.lastSeqno === undefined ? '(empty)' : String(segment.lastSeqno),
      String(segment.sizeBytes),
    ]),
  );
  if (info.tornTail) {
    out += `torn tail at ${basename(info.tornTail.file)} offset ${info.tornTail.offset} (${info.tornTail.reason})\n`;
  }
  const tree = info.tree;
  if (!tree) return out + '\ntree: (not created yet)\n';
  out += `\ntree: flushed seqno ${tree.flushedSeqno < 0 ? '(none)' : tree.flushedSeqno}, ${tree.levels.flat().length} segments\n`;
  out += formatTable(
    ['level', 'segment', 'min key', 'max key', 'items', 'keys', 'seqnos', 'size bytes'],
    tree.levels.flatMap((segments) =>
      segments.map((segment) => [
        String(segment.level),
        `${segment.id}.seg`,
        displayKey(segment.minKeyHex),
        displayKey(segment.maxKeyHex),
        String(segment.itemCount),
        String(segment.keyCount),
        `${segment.minSeqno}..${segment.maxSeqno}`,
        String(segment.fileSizeBytes),
      ]),
    ),
  );
  out += '\nlevels\n';
  out += formatTable(
    ['level', 'segments', 'bytes'],
    tree.levels.map((segments, level) => [
      String(level),
      String(segments.length),
      String(segments.reduce((sum, segment) => sum + segment.fileSizeBytes, 0)),
    ]),
  );
  return out;
}
