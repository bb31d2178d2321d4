import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ReplicationStatus } from '@strata/replication';
import type { Store } from '@strata/store';
import { NODE_VERSION } from '../http/status-routes.js';
import { registerReplicationMetrics } from './replication-metrics.js';
import { LATENCY_BUCKETS_SECONDS, StoreMetrics } from './store-metrics.js';

/**
 * prom-client's default metrics that break the naming conventions: gauges named `*_total` (a
 * counter's suffix). Each has a twin without the suffix, by type (`nodejs_active_handles`), that
 * stays.
 */
const NONCONFORMING_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/**
 * The node's Prometheus metrics (prom-client, one registry per node so several nodes can share a
 * process in tests), named by the conventions `promtool check metrics` enforces: counters end in
 * `_total`, gauges do not, units are in the names (`_bytes`, `_seconds`), and no figure is
 * exported twice (a histogram's `_count` is its number of events: no separate counter).
 *
 * HTTP metrics are fed by the server's hooks; the store's come from its own events and stats
 * ({@link StoreMetrics}); replication metrics exist only on a cluster node. `strata_build_info`
 * says which version runs.
 */
export class NodeMetrics {
  readonly registry = new Registry();
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route'>;
  readonly writeEntries: Counter;
  readonly writeDuration: Histogram<'op'>;
  readonly eventStreams: Gauge;
  private readonly store: StoreMetrics;
  private replicationRegistered = false;
  /** The store whose scrub `strata_scrub_damaged_places` reads. */
  private scrubbed: Store | undefined;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    for (const name of NONCONFORMING_DEFAULT_METRICS) this.registry.removeSingleMetric(name);
    new Gauge({
      name: 'strata_build_info',
      help: 'Always 1; the labels say which Strata runs',
      labelNames: ['version'],
      registers,
    }).set({ version: NODE_VERSION }, 1);
    this.httpRequests = new Counter({
      name: 'strata_http_requests_total',
      help: 'HTTP requests by route, method and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'strata_http_request_duration_seconds',
      help: 'HTTP request latency by route (until the response is sent)',
      labelNames: ['method', 'route'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.writeEntries = new Counter({
      name: 'strata_write_entries_total',
      help: 'Acknowledged entries (one seqno each)',
      registers,
    });
    this.writeDuration = new Histogram({
      name: 'strata_write_duration_seconds',
      help: 'Acknowledged write requests by kind (put, delete, delete_range, batch): time from the call to the acknowledgement (group commit and acks included)',
      labelNames: ['op'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.eventStreams = new Gauge({
      name: 'strata_event_streams',
      help: 'Open GET /v1/events streams',
      registers,
    });
    this.store = new StoreMetrics(this.registry);
    const scrubbed = (): Store | undefined => this.scrubbed;
    new Gauge({
      name: 'strata_scrub_damaged_places',
      help: 'Damaged places (file and offset) the background scrub found in its last full pass and the current one',
      registers,
      collect() {
        this.set(scrubbed()?.scrubStatus()?.damage.length ?? 0);
      },
    });
  }

  /**
   * Follows `store`'s events and stats; a store attached before (a cluster node reopens its
   * store) is no longer followed, and the counters go on from where they were.
   */
  attach(store: Store): void {
    this.scrubbed = store;
    this.store.attach(store);
  }

  /** Registers the replication metrics, read from `status` (cluster nodes; once). */
  attachReplication(status: () => ReplicationStatus): void {
    if (this.replicationRegistered) return;
    this.replicationRegistered = true;
    registerReplicationMetrics(this.registry, status);
  }

  /** The Prometheus text exposition. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }
}
