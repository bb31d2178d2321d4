// The replication benchmark's handle on its follower process (follower-process.ts), forked with
// IPC: requests matched to replies by kind, and, while asked for, the follower's applied seqno
// pushed after each applied message (what a quorum wait needs).
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FollowerCommand, FollowerReply } from './follower-process.js';

/** A forked follower process. */
export class FollowerClient {
  private readonly child: ChildProcess;
  private readonly waiters: { kind: string; resolve: (reply: FollowerReply) => void }[] = [];
  private readonly appliedWaiters: { seqno: number; resolve: (atMs: number) => void }[] = [];
  /** The last applied seqno the follower pushed (only while `reportApplied(true)`). */
  appliedSeqno = 0;
  private appliedAtMs = 0;
  readonly errors: string[] = [];

  constructor(nodeFlags: readonly string[], cwd: string, env: NodeJS.ProcessEnv) {
    this.child = fork(fileURLToPath(new URL('./follower-process.ts', import.meta.url)), [], {
      cwd,
      execArgv: ['--import', 'tsx', ...nodeFlags],
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (reply: FollowerReply) => {
      if (reply.kind === 'error') {
        this.errors.push(reply.message);
        process.stderr.write(`follower: ${reply.message}\n`);
        return;
      }
      if (reply.kind === 'applied') {
        this.onApplied(reply.lastSeqno, reply.atMs);
        return;
      }
      const index = this.waiters.findIndex((waiter) => waiter.kind === reply.kind);
      if (index >= 0) this.waiters.splice(index, 1)[0]?.resolve(reply);
    });
  }

  request<K extends FollowerReply['kind']>(
    command: FollowerCommand,
    kind: K,
  ): Promise<Extract<FollowerReply, { kind: K }>> {
    return new Promise((resolve) => {
      this.waiters.push({
        kind,
        resolve: (reply) => resolve(reply as Extract<FollowerReply, { kind: K }>),
      });
      this.child.send(command);
    });
  }

  /** Turns the pushed applied seqnos on or off (on only for the quorum phase: it costs IPC). */
  async reportApplied(on: boolean): Promise<void> {
    const reply = await this.request({ cmd: 'report-applied', on }, 'reporting');
    this.onApplied(reply.lastSeqno, reply.atMs);
  }

  /** Resolves with the time the follower had `seqno` applied (needs `reportApplied(true)`). */
  applied(seqno: number): Promise<number> {
    if (this.appliedSeqno >= seqno) return Promise.resolve(this.appliedAtMs);
    return new Promise((resolve) => this.appliedWaiters.push({ seqno, resolve }));
  }

  async exit(): Promise<void> {
    if (this.child.exitCode !== null) return;
    await new Promise((resolve) => this.child.once('exit', resolve));
  }

  private onApplied(seqno: number, atMs: number): void {
    if (seqno <= this.appliedSeqno) return;
    this.appliedSeqno = seqno;
    this.appliedAtMs = atMs;
    let kept = 0;
    for (const waiter of this.appliedWaiters) {
      if (waiter.seqno <= seqno) waiter.resolve(atMs);
      else this.appliedWaiters[kept++] = waiter;
    }
    this.appliedWaiters.length = kept;
  }
}
