import { expect } from 'chai';
import { ConsumerWatchdog } from '../src/follower/consumer-health.js';
import type { ConsumerProgress } from '../src/follower/consumer-health.js';

const CHECK_MS = 20;

/** Resolves once `condition` holds (polled every few milliseconds), or fails after `timeoutMs`. */
async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/**
 * A watchdog over a fake consumer whose info answers `answer()`, and, with `streamAhead`, a fake
 * stream that says how many messages it holds past the follower's.
 */
function watch(
  answer: () => Promise<ConsumerProgress>,
  streamAhead?: () => Promise<number>,
): {
  watchdog: ConsumerWatchdog;
  stopped: () => boolean;
  infos: () => number;
} {
  let stopped = false;
  let infos = 0;
  const watchdog = new ConsumerWatchdog(
    () => {
      infos++;
      return answer();
    },
    () => (stopped = true),
    CHECK_MS,
    streamAhead,
  );
  return { watchdog, stopped: () => stopped, infos: () => infos };
}

describe('ConsumerWatchdog: a follower’s consumer that died or stalled is given up', () => {
  it('gives up a consumer whose info fails', async () => {
    const { watchdog, stopped } = watch(() => Promise.reject(new Error('no responders')));
    await until(stopped);
    expect(watchdog.unreachable).to.equal('no responders');
    watchdog.stop();
  });

  it('gives up a consumer whose info never answers', async () => {
    const { watchdog, stopped } = watch(() => new Promise<never>(() => undefined));
    await until(stopped);
    expect(watchdog.unreachable).to.match(/no consumer info within/);
    watchdog.stop();
  });

  it('gives up a consumer that reports pending messages but delivers none for two checks', async () => {
    const { watchdog, stopped, infos } = watch(() => Promise.resolve({ num_pending: 3 }));
    await until(stopped);
    expect(infos()).to.be.at.least(2);
    expect(watchdog.unreachable).to.equal('3 messages pending, none delivered');
    watchdog.stop();
  });

  it('keeps an idle consumer (nothing pending) and one that delivers between checks', async () => {
    const idle = watch(() => Promise.resolve({ num_pending: 0 }));
    // Every check of this one finds a message delivered since the one before.
    const holder: { watchdog?: ConsumerWatchdog } = {};
    const busy = watch(() => {
      holder.watchdog?.delivered();
      return Promise.resolve({ num_pending: 5 });
    });
    holder.watchdog = busy.watchdog;
    await until(() => idle.infos() >= 4 && busy.infos() >= 4);
    expect(idle.stopped()).to.equal(false);
    expect(busy.stopped()).to.equal(false);
    expect(idle.watchdog.unreachable).to.equal(undefined);
    expect(busy.watchdog.unreachable).to.equal(undefined);
    idle.watchdog.stop();
    busy.watchdog.stop();
  });

  it('gives up a consumer that says nothing is pending while the stream holds messages past the follower', async () => {
    let probes = 0;
    const { watchdog, stopped, infos } = watch(
      () => Promise.resolve({ num_pending: 0 }),
      () => {
        probes++;
        return Promise.resolve(2);
      },
    );
    await until(stopped);
    expect(infos()).to.be.at.least(2);
    expect(probes).to.be.at.least(2);
    expect(watchdog.unreachable).to.equal('2 messages pending, none delivered');
    watchdog.stop();
  });

  it('keeps a consumer when the stream is not ahead, or cannot answer, or never answers', async () => {
    const caughtUp = watch(
      () => Promise.resolve({ num_pending: 0 }),
      () => Promise.resolve(0),
    );
    let failedProbes = 0;
    const failing = watch(
      () => Promise.resolve({ num_pending: 0 }),
      () => {
        failedProbes++;
        return Promise.reject(new Error('stream info timed out'));
      },
    );
    let silentProbes = 0;
    const silent = watch(
      () => Promise.resolve({ num_pending: 0 }),
      () => {
        silentProbes++;
        return new Promise<never>(() => undefined);
      },
    );
    await until(
      () => caughtUp.infos() >= 4 && failing.infos() >= 4 && failedProbes >= 4 && silentProbes >= 3,
    );
    for (const kept of [caughtUp, failing, silent]) {
      expect(kept.stopped()).to.equal(false);
      expect(kept.watchdog.unreachable).to.equal(undefined);
      kept.watchdog.stop();
    }
  });
});
