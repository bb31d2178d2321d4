/**
 * Waits for every one of `steps`, so none is left running behind an error, then throws the first
 * failure in the order given, if any. For steps started at once whose failures must all end
 * before the caller goes on (a file rename still running after an open gave up, say).
 *
 * @example
 * ```ts
 * await settleAll([fs.syncDirectory(treeDirectory), fs.syncDirectory(dataDirectory)]);
 * ```
 */
export async function settleAll(steps: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(steps);
  for (const result of results) if (result.status === 'rejected') throw result.reason;
}
