import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { PhaseSpan } from './types.js';

interface CpuProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
}

/** The parts of a V8 `.cpuprofile` that the summary reads. */
export interface CpuProfile {
  readonly nodes: readonly CpuProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Self time of one function inside the summarized window. */
export interface SelfTimeRow {
  /** `name (file:line)`; V8's pseudo-frames keep their names: `(garbage collector)`, `(program)`. */
  readonly frame: string;
  readonly selfMs: number;
  /** Share of the sampled time in the window. */
  readonly percent: number;
}

/**
 * The functions with the most self time in a CPU profile, optionally only over `window` (a span
 * on the same monotonic clock, as workers report in their phases).
 */
export function topSelfTime(profile: CpuProfile, window?: PhaseSpan, limit = 15): SelfTimeRow[] {
  const frames = new Map<number, string>();
  for (const node of profile.nodes) frames.set(node.id, frameName(node));
  const selfUs = new Map<string, number>();
  let totalUs = 0;
  let time = profile.startTime;
  for (let index = 0; index < profile.samples.length; index++) {
    time += profile.timeDeltas[index] ?? 0;
    const next = profile.timeDeltas[index + 1] ?? 0;
    if (window && (time < window.startUs || time > window.endUs)) continue;
    const frame = frames.get(profile.samples[index] as number) ?? '(unknown)';
    selfUs.set(frame, (selfUs.get(frame) ?? 0) + next);
    totalUs += next;
  }
  return [...selfUs.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([frame, us]) => ({
      frame,
      selfMs: us / 1000,
      percent: totalUs > 0 ? (100 * us) / totalUs : 0,
    }));
}

/** Reads a `.cpuprofile` file. */
export function readCpuProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
}

/** Renders rows as aligned text lines. */
export function formatSelfTime(rows: readonly SelfTimeRow[]): string {
  return rows
    .map(
      (row) =>
        `${row.selfMs.toFixed(1).padStart(9)} ms ${row.percent.toFixed(1).padStart(5)}%  ${row.frame}`,
    )
    .join('\n');
}

function frameName(node: CpuProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const name = functionName === '' ? '(anonymous)' : functionName;
  if (url === '') return name;
  const file = url.replace(/^file:\/\//, '');
  const short = file.includes('node_modules')
    ? file.slice(file.lastIndexOf('node_modules') + 13)
    : path.basename(file);
  // tsx-transpiled modules report line 0 for every function; show a line only when it means one.
  return lineNumber > 0 ? `${name} (${short}:${lineNumber + 1})` : `${name} (${short})`;
}
