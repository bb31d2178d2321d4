import { performance } from 'node:perf_hooks';
import { sleep } from '../cluster-helpers.js';

/** One write of a {@link PinnedWriter}: its key and how the node answered it. */
export interface PinnedWrite {
  readonly key: string;
  readonly startedAt: number;
  readonly endedAt: number;
  /** `acknowledged` (200), an error code (`NOT_LEADER`, `TIMEOUT`, ...), or `failed` (no typed answer). */
  readonly outcome: string;
}

/**
 * One client that writes unique keys with `?acks=leader` to one node only, whatever it answers:
 * an acknowledgement means that node took the write as leader (its own fsync, no quorum), so the
 * last one tells when the node stopped acting as leader. Such writes may be lost when the leader
 * is deposed: the checker does not count them as acknowledged (they are a separate prefix).
 */
export class PinnedWriter {
  readonly writes: PinnedWrite[] = [];
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(
    private readonly url: string,
    private readonly prefix: string,
  ) {
    this.loop = this.run();
  }

  /** Writes acknowledged whose answer came after `at` (a `performance.now()`). */
  acknowledgedAfter(at: number): PinnedWrite[] {
    return this.writes.filter((write) => write.outcome === 'acknowledged' && write.endedAt > at);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    for (let index = 0; !this.stopped; index++) {
      const key = `${this.prefix}-${String(index).padStart(6, '0')}`;
      const startedAt = performance.now();
      let outcome: string;
      try {
        const response = await fetch(`${this.url}/v1/kv/${key}?acks=leader`, {
          method: 'PUT',
          body: `value of ${key}`,
          signal: AbortSignal.timeout(30_000),
        });
        const body = (await response.json().catch(() => ({}))) as { error?: { code?: string } };
        outcome = response.status === 200 ? 'acknowledged' : (body.error?.code ?? 'failed');
      } catch {
        outcome = 'failed';
      }
      this.writes.push({ key, startedAt, endedAt: performance.now(), outcome });
      // Pacing only: a refusing node answers at once.
      if (outcome !== 'acknowledged') await sleep(20);
    }
  }
}
