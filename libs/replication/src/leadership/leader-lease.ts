import type { JetStreamClient, KV } from 'nats';
import type { ClusterNames } from '../names.js';
import { apiErrorCode } from '../stream-index.js';

/** Who holds the lease: the leader's id, URL and term. */
export interface LeaseHolder {
  readonly nodeId: string;
  readonly url: string;
  readonly epoch: number;
}

/** The lease as read, with the revision an update must name. */
export interface LeaseState {
  readonly holder: LeaseHolder;
  readonly revision: number;
}

const LEASE_KEY = 'leader';
const WRONG_LAST_SEQUENCE = 10071;

/**
 * The leader lease: one key in a JetStream KV bucket whose max age is the lease's time to live.
 * Taking it is a create (fails while someone holds it), renewing and handing it over are updates
 * naming the last revision (fail when someone else wrote in between); an unrenewed lease expires
 * with the bucket's max age.
 */
export class LeaderLease {
  private constructor(
    private readonly kv: KV,
    /** The lease's time to live. */
    readonly ttlMs: number,
  ) {}

  /**
   * Opens (or creates) the cluster's lease bucket with `ttlMs` as its max age; a bucket it creates
   * gets `replicas` replicas (an existing one keeps its own: see `ensureLeaseReplicas`).
   */
  static async open(
    js: JetStreamClient,
    names: ClusterNames,
    ttlMs: number,
    replicas = 1,
  ): Promise<LeaderLease> {
    const kv = await js.views.kv(names.leaseBucket, { ttl: ttlMs, history: 1, replicas });
    return new LeaderLease(kv, ttlMs);
  }

  /** The current holder, or undefined when nobody holds the lease. */
  async read(): Promise<LeaseState | undefined> {
    const entry = await this.kv.get(LEASE_KEY);
    if (!entry || entry.operation !== 'PUT' || entry.value.length === 0) return undefined;
    try {
      const holder = JSON.parse(Buffer.from(entry.value).toString()) as LeaseHolder;
      if (typeof holder.nodeId !== 'string' || !Number.isSafeInteger(holder.epoch))
        return undefined;
      return { holder, revision: entry.revision };
    } catch {
      return undefined;
    }
  }

  /** Takes a free lease; the new revision, or undefined when someone holds it. */
  async acquire(holder: LeaseHolder): Promise<number | undefined> {
    try {
      return await this.kv.create(LEASE_KEY, encode(holder));
    } catch (error) {
      if (isConflict(error)) return undefined;
      throw error;
    }
  }

  /**
   * Writes `holder` over the lease at `revision` (a renewal, or a hand-over to another node);
   * the new revision, or undefined when the lease moved since.
   */
  async update(holder: LeaseHolder, revision: number): Promise<number | undefined> {
    try {
      return await this.kv.update(LEASE_KEY, encode(holder), revision);
    } catch (error) {
      if (isConflict(error)) return undefined;
      throw error;
    }
  }

  /** Gives the lease up at `revision` (a clean shutdown), so another node need not wait out the TTL. */
  async release(revision: number): Promise<void> {
    try {
      await this.kv.delete(LEASE_KEY, { previousSeq: revision });
    } catch (error) {
      if (!isConflict(error)) throw error;
    }
  }
}

function encode(holder: LeaseHolder): Uint8Array {
  return Buffer.from(JSON.stringify(holder));
}

function isConflict(error: unknown): boolean {
  if (apiErrorCode(error) === WRONG_LAST_SEQUENCE) return true;
  return /wrong last sequence|key exists/i.test((error as Error)?.message ?? '');
}
