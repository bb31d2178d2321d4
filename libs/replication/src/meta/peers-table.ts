import type Database from 'better-sqlite3';
import { PEER_ROLES } from './meta-records.js';
import type { PeerRecord, PeerRole } from './meta-records.js';
import { withRelaxedDurability } from './sqlite-transaction.js';
import { checkCount, checkId, checkOneOf, checkText } from './validation.js';

interface PeerParameters {
  nodeId: string;
  url: string;
  role: PeerRole;
  epoch: number;
  appliedSeqno: number;
  durableSeqno: number;
  lastContactMs: number;
}

/** The `peers` table: what is known about the other nodes and their progress. */
export class PeersTable {
  private readonly upsertRow: Database.Statement<[PeerParameters], void>;
  private readonly deleteRow: Database.Statement<[string], void>;

  constructor(private readonly db: Database.Database) {
    this.upsertRow = db.prepare(
      `INSERT INTO peers
         (node_id, url, role, epoch, applied_seqno, durable_seqno, last_contact_ms)
       VALUES
         (@nodeId, @url, @role, @epoch, @appliedSeqno, @durableSeqno, @lastContactMs)
       ON CONFLICT (node_id) DO UPDATE SET
         url = excluded.url, role = excluded.role, epoch = excluded.epoch,
         applied_seqno = excluded.applied_seqno, durable_seqno = excluded.durable_seqno,
         last_contact_ms = excluded.last_contact_ms`,
    );
    this.deleteRow = db.prepare('DELETE FROM peers WHERE node_id = ?');
  }

  /** Adds or replaces a peer; an observation, so without an fsync of its own. */
  upsert(peer: PeerRecord): void {
    const parameters: PeerParameters = {
      nodeId: checkId('nodeId', peer.nodeId),
      url: checkText('url', peer.url),
      role: checkOneOf('role', peer.role, PEER_ROLES),
      epoch: checkCount('epoch', peer.epoch),
      appliedSeqno: checkCount('appliedSeqno', peer.appliedSeqno),
      durableSeqno: checkCount('durableSeqno', peer.durableSeqno),
      lastContactMs: checkCount('lastContactMs', peer.lastContactMs),
    };
    withRelaxedDurability(this.db, () => this.upsertRow.run(parameters));
  }

  /** Drops a peer; an unknown id is ignored. */
  forget(nodeId: string): void {
    this.deleteRow.run(checkId('nodeId', nodeId));
  }
}
