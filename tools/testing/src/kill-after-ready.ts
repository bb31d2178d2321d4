import { spawn } from 'node:child_process';

/** Options of {@link runUntilKilled}. */
export interface KillAfterReadyOptions {
  /** A TypeScript or JavaScript file, run with `node --import tsx`. */
  readonly script: string;
  readonly args?: readonly string[];
  /** Working directory (where `tsx` resolves from). */
  readonly cwd?: string;
  /** The child is killed with SIGKILL this long after it prints a line starting with `ready`. */
  readonly runAfterReadyMs: number;
  /** Every line the child prints on stdout, as it arrives. */
  readonly onLine: (line: string) => void;
  /**
   * When set, the kill also waits for a line starting with this (say `ack`): the child is killed
   * at `runAfterReadyMs` after `ready` or right after that line, whichever comes later. A loaded
   * machine can otherwise kill a child before it did anything, and a run of many kills then
   * tests less than it says.
   */
  readonly killNotBefore?: string;
}

/**
 * Runs a child process until it says `ready`, lets it work for `runAfterReadyMs`, then kills it
 * with SIGKILL. Resolves once it is dead; rejects if it exits any other way (with its stderr).
 *
 * @example
 * ```ts
 * await runUntilKilled({ script: writer, args: [dir], runAfterReadyMs: 80, onLine: (line) => acks.push(line) });
 * ```
 */
export function runUntilKilled(options: KillAfterReadyOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', options.script, ...(options.args ?? [])],
      {
        cwd: options.cwd,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let buffered = '';
    let stderr = '';
    let due = false;
    let awaited = options.killNotBefore === undefined;
    const killWhenDue = (): void => {
      if (due && awaited) child.kill('SIGKILL');
    };
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        options.onLine(line);
        if (line.startsWith('ready')) {
          setTimeout(() => {
            due = true;
            killWhenDue();
          }, options.runAfterReadyMs);
        } else if (!awaited && line.startsWith(options.killNotBefore as string)) {
          awaited = true;
          killWhenDue();
        }
      }
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`child exited with ${code} before it was killed: ${stderr}`));
    });
  });
}
