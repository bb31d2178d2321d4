import type { DirectoryLock } from './directory-lock.js';

/** What is released for a store collected without `close()`: its lock, named by its directory. */
interface Unclosed {
  readonly root: string;
  readonly lock: DirectoryLock;
}

/** The warning code of a store that was garbage-collected without `close()`. */
export const UNCLOSED_STORE_WARNING = 'STRATA_STORE_NOT_CLOSED';

/**
 * Stores opened and not yet closed. One that is garbage-collected without `close()` gets a
 * process warning (code {@link UNCLOSED_STORE_WARNING}) and its directory lock released, so that
 * the directory opens again in this process. Its file descriptors are Node `FileHandle`s, which
 * Node closes when it collects them. Its unflushed writes are in the log already (a write
 * resolves once it is there): the next open replays them.
 */
const registry = new FinalizationRegistry<Unclosed>((unclosed) => {
  process.emitWarning(
    `a Strata store (${unclosed.root}) was garbage-collected without close(); its lock is released. Close stores when done.`,
    { code: UNCLOSED_STORE_WARNING },
  );
  unclosed.lock.release().catch(() => undefined);
});

/** Watches `store` until {@link forgetStore}: collected before, it is warned about and unlocked. */
export function watchStore(store: object, root: string, lock: DirectoryLock): void {
  registry.register(store, { root, lock }, store);
}

/** The store is closing: it releases its own lock. */
export function forgetStore(store: object): void {
  registry.unregister(store);
}
