/**
 * @strata/crash-test: crash-test a Strata data directory (SIGKILL at random moments, reopen,
 * verify). Run `strata-crash-test --data DIR --cycles N`, or call {@link runCrashTest}.
 *
 * @packageDocumentation
 */
export { runCrashTest } from './crash-test.js';
export type { CrashTestOptions, CrashTestReport, CycleReport } from './crash-test.js';
