import type { SimulatedFileSystem } from '@strata/core';

/** Where a power failure armed by {@link armPowerFailure} stands. */
export interface PowerFailure {
  /** True once the failure happened. */
  readonly happened: boolean;
  /** The disk after the failure (the rebooted file system), or the same one before it. */
  readonly disk: SimulatedFileSystem;
  /** Makes the failure happen now, if it has not yet. */
  now(): void;
}

/**
 * Arms a power failure at the `atOperation`-th file-system operation: the disk loses what was
 * not synced (see `SimulatedFileSystem.crash`) and that operation fails with EIO, as if the
 * machine died during it. The old file system stays dead; use `disk` to reopen.
 *
 * @example
 * ```ts
 * const failure = armPowerFailure(fs, 40, seededRandom(seed));
 * // ... writes until they fail ...
 * const reopened = await Wal.open('/wal', { fileSystem: failure.disk });
 * ```
 */
export function armPowerFailure(
  fs: SimulatedFileSystem,
  atOperation: number,
  random: () => number,
): PowerFailure {
  let operations = 0;
  let happened = false;
  let disk = fs;
  const fail = (): void => {
    if (happened) return;
    happened = true;
    disk = fs.crash({ random });
  };
  fs.setFaultInjector(() => {
    if (happened || ++operations < atOperation) return undefined;
    fail();
    return 'EIO';
  });
  return {
    get happened() {
      return happened;
    },
    get disk() {
      return disk;
    },
    now: fail,
  };
}
