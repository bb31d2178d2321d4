/** A value that survives `JSON.stringify` / `JSON.parse` unchanged. */
export type JsonValue =
  string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Parameters of a workload, as passed to a worker on its command line. */
export type WorkloadParams = Record<string, JsonValue>;

/** Which direction of a metric is better. */
export type Better = 'higher' | 'lower';

/** One measured quantity of a workload (units go in the key: `opsPerSec`, `p99Us`, `openMs`). */
export interface MetricSpec {
  /** Key in {@link WorkerOutput.metrics}. */
  readonly key: string;
  /** Column header of the markdown table, unit included. */
  readonly label: string;
  readonly better: Better;
  /** Decimals shown in the table (default 0). */
  readonly digits?: number;
}

/**
 * What a benchmark group must reach. `ratio-vs-best-peer` compares the subject's median of the
 * primary metric with the best peer's; `at-least` compares it with an absolute value.
 */
export type BenchTarget =
  | { readonly kind: 'ratio-vs-best-peer'; readonly value: number }
  | { readonly kind: 'at-least'; readonly value: number };

/** One workload with fixed parameters, measured on each of its contenders. */
export interface BenchGroup {
  /** Stable id, also used in file names: `durable-appends/writers-8`. */
  readonly id: string;
  /** Row label in the table. */
  readonly label: string;
  /** Workload name the worker dispatches on. */
  readonly workload: string;
  readonly params: WorkloadParams;
  /** Contender names, in the order they run within a round. */
  readonly contenders: readonly string[];
  /** The first metric is the primary one: medians, ratios and targets use it. */
  readonly metrics: readonly MetricSpec[];
  readonly target?: BenchTarget;
}

/** A set of groups run together in one process tree, with one results file. */
export interface BenchSuite {
  /** Base name of the results files: `results/<name>.json` and `results/<name>.md`. */
  readonly name: string;
  readonly title: string;
  /** Paragraph printed above the table. */
  readonly description: string;
  /** Absolute path of the worker module (run as `node --import tsx <worker> <request json>`). */
  readonly workerPath: string;
  /** The contender the suite is about; the others are its peers. */
  readonly subject: string;
  /** Packages whose installed versions are recorded with the results. */
  readonly packages: readonly string[];
  readonly groups: readonly BenchGroup[];
}

/** What the runner passes to a worker process (as one JSON command-line argument). */
export interface WorkerRequest {
  readonly contender: string;
  readonly workload: string;
  readonly params: WorkloadParams;
  readonly round: number;
}

/** A time span inside a worker, in microseconds of the monotonic clock (`process.hrtime`). */
export interface PhaseSpan {
  readonly startUs: number;
  readonly endUs: number;
}

/** What a worker prints (one line on stdout, after {@link RESULT_LINE_PREFIX}). */
export interface WorkerOutput {
  readonly metrics: Record<string, number>;
  /** Measured spans by name; CPU profiles are summarized over them. */
  readonly phases?: Record<string, PhaseSpan>;
}

/** Prefix of the result line a worker writes to stdout; other output is ignored. */
export const RESULT_LINE_PREFIX = 'BENCH_RESULT ';
