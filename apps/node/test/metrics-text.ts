import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** One sample line of a Prometheus text exposition. */
export interface Sample {
  readonly name: string;
  /** The label part as written, e.g. `{level="0"}`, or ''. */
  readonly labels: string;
  readonly value: number;
}

/** The samples of an exposition (comments skipped). */
export function samplesOf(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    samples.push({ name: match[1]!, labels: match[2] ?? '', value: Number(match[3]) });
  }
  return samples;
}

/** The value of the sample `name` with exactly `labels` (as written), or undefined. */
export function valueOf(text: string, name: string, labels = ''): number | undefined {
  return samplesOf(text).find((sample) => sample.name === name && sample.labels === labels)?.value;
}

/** The metric families and their types (`# TYPE name type`). */
export function typesOf(text: string): Map<string, string> {
  const types = new Map<string, string>();
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(match[1]!, match[2]!);
  return types;
}

/** promtool: `$PROMTOOL`, Debian's /usr/bin/promtool, then PATH (tools/provision-test-deps.mjs installs it). */
export function findPromtool(): string {
  const fromEnvironment = process.env['PROMTOOL'];
  if (fromEnvironment && existsSync(fromEnvironment)) return fromEnvironment;
  if (existsSync('/usr/bin/promtool')) return '/usr/bin/promtool';
  for (const directory of (process.env['PATH'] ?? '').split(delimiter)) {
    if (directory && existsSync(join(directory, 'promtool'))) return join(directory, 'promtool');
  }
  throw new Error(
    'promtool not found: run node tools/provision-test-deps.mjs (Debian package prometheus)',
  );
}

/** Runs `promtool check metrics` on `text`; resolves with its exit code and what it printed. */
export function promtoolCheckMetrics(
  text: string,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(findPromtool(), ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}

/** A JSON log line of a node (pino): level, msg and whatever fields it carries. */
export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** Parses every line of a node's stdout as JSON; throws naming the first line that is not. */
export function logLinesOf(stdout: string): LogLine[] {
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line, index) => {
      try {
        const parsed = JSON.parse(line) as LogLine;
        if (typeof parsed.level !== 'number' || typeof parsed.msg !== 'string') {
          throw new Error('no level or msg');
        }
        return parsed;
      } catch (error) {
        throw new Error(
          `stdout line ${index + 1} is not a JSON log line (${String(error)}): ${line}`,
        );
      }
    });
}
