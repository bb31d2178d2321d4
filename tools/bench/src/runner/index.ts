/**
 * A small benchmark runner: each (contender, workload, round) in its own process, rounds
 * interleaved across contenders, medians, ratios against the best peer, JSON + markdown results.
 *
 * @packageDocumentation
 */
export { runSuite } from './run-suite.js';
export type { RunSuiteOptions } from './run-suite.js';
export { runWorkerProcess, parseResultLine } from './child-process.js';
export type { WorkerProcessOptions } from './child-process.js';
export {
  runWorker,
  parseWorkerRequest,
  numberParam,
  measurePhase,
  monotonicMicros,
} from './worker-protocol.js';
export { machineInfo, installedVersion } from './machine.js';
export type { MachineInfo } from './machine.js';
export { renderMarkdown, summarizeGroup, formatNumber, primaryMetric } from './report.js';
export type {
  ContenderSummary,
  GroupSummary,
  RoundResult,
  SuiteReport,
  TargetVerdict,
} from './report.js';
export { median, quantile, range } from './stats.js';
export { topSelfTime, readCpuProfile, formatSelfTime } from './profile-summary.js';
export type { CpuProfile, SelfTimeRow } from './profile-summary.js';
export { RESULT_LINE_PREFIX } from './types.js';
export type {
  BenchGroup,
  BenchSuite,
  BenchTarget,
  Better,
  JsonValue,
  MetricSpec,
  PhaseSpan,
  WorkerOutput,
  WorkerRequest,
  WorkloadParams,
} from './types.js';
