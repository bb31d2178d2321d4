/**
 * Runs tasks one at a time, in the order they were queued; a task that fails does not stop the
 * next. Flushes, compactions and manifest writes each go through one, so that two of a kind never
 * overlap and each starts from the state the previous one left.
 *
 * @example
 * ```ts
 * const queue = new SerialQueue();
 * const first = queue.run(() => writeManifest(fs, path, a));
 * const second = queue.run(() => writeManifest(fs, path, b)); // starts when `first` settles
 * await queue.idle();
 * ```
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs `task` once every task queued before it has settled; resolves or rejects as it does. */
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Settles (never rejects) once every task queued so far has settled. */
  async idle(): Promise<void> {
    await this.tail;
  }
}
