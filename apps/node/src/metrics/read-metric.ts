import type { Registry } from 'prom-client';

/** One sample of a {@link ReadMetric}: its value and, for a labelled metric, its labels. */
export interface ReadSample {
  readonly value: number;
  readonly labels?: Readonly<Record<string, string | number>>;
}

/** How a {@link ReadMetric} reads its figure: one number, samples, or `undefined` for none. */
export type ReadFunction = () => number | readonly ReadSample[] | undefined;

/**
 * A metric whose samples are read at scrape time from something that keeps the figure itself
 * (the store's stats, the replication status). Unlike prom-client's Gauge, nothing is exported
 * while there is nothing to report: no invented zero for a figure this node does not have.
 */
export class ReadMetric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'gauge' | 'counter',
    private readonly read: ReadFunction,
  ) {}

  /** Adds a metric to `registry`. */
  static register(
    registry: Registry,
    name: string,
    help: string,
    type: 'gauge' | 'counter',
    read: ReadFunction,
  ): ReadMetric {
    const metric = new ReadMetric(name, help, type, read);
    // prom-client's registry takes any object with a name and get(); its types ask for a Metric.
    registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
    return metric;
  }

  /** What prom-client's registry asks each metric for at scrape time. */
  get(): {
    name: string;
    help: string;
    type: string;
    aggregator: 'sum';
    values: { value: number; labels: Readonly<Record<string, string | number>> }[];
  } {
    const figure = this.read();
    const samples: readonly ReadSample[] =
      figure === undefined ? [] : typeof figure === 'number' ? [{ value: figure }] : figure;
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: 'sum',
      values: samples.map((sample) => ({ value: sample.value, labels: sample.labels ?? {} })),
    };
  }

  /** prom-client calls this on `registry.resetMetrics()`; the figure lives elsewhere. */
  reset(): void {}
}
