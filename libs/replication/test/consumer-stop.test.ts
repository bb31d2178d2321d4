import { expect } from 'chai';
import { DeliverPolicy } from 'nats';
import type { ConsumerMessages, JetStreamManager } from 'nats';
import { stopForGood } from '../src/follower/consumer-health.js';
import { clusterNames } from '../src/names.js';
import { useLogStream } from './helpers.js';

const names = clusterNames('stop1');
const PULL = { max_messages: 10, expires: 1_000 };

/** Pull requests the server holds open, over every consumer of the log stream. */
async function waitingPulls(jsm: JetStreamManager): Promise<number> {
  let waiting = 0;
  for await (const consumer of jsm.consumers.list(names.stream)) waiting += consumer.num_waiting;
  return waiting;
}

/** The names of the log stream's consumers. */
async function streamConsumers(jsm: JetStreamManager): Promise<string[]> {
  const found: string[] = [];
  for await (const consumer of jsm.consumers.list(names.stream)) found.push(consumer.name);
  return found;
}

/** Polls `check` until it holds; fails after `timeoutMs`. */
async function until(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('stopForGood: a follower’s given-up ordered consumer stays stopped', function () {
  this.timeout(60_000);
  const stream = useLogStream(names, 'consumer-stop-');

  it('stops the pull nats.js binds when an ordered reset finishes after the stop', async () => {
    const js = stream.nc.jetstream();
    const jsm = await stream.nc.jetstreamManager();
    for (let index = 0; index < 5; index++) await js.publish(names.logSubject, `m${index}`);
    const consumer = await js.consumers.get(names.stream, {
      filterSubjects: names.logSubject,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: 1,
    });
    const messages: ConsumerMessages = await consumer.consume(PULL);
    await until(async () => (await waitingPulls(jsm)) > 0);

    expect(await streamConsumers(jsm)).to.have.length(1);

    let latePulls = 0;
    stopForGood(messages, () => latePulls++);
    // What nats.js runs in the background after an ordered reset (a heartbeat missed, a consumer
    // the server lost): re-create the consumer, then bind a new pull to the same messages. Run
    // here after the stop, as it does when the re-create is answered late.
    const ordered = consumer as unknown as {
      reset(options: typeof PULL, info: { orderedReset: boolean }): Promise<void>;
    };
    await ordered.reset({ ...PULL }, { orderedReset: true });
    expect(latePulls).to.equal(1);

    // Stopped, the late pull sends no new request, and the consumer nats.js re-created is
    // deleted (the first one nats.js deletes itself when it resets): the stream is left with no
    // consumer and no open pull. Without the stop the late pull keeps pulling, and its consumer
    // stays active for as long as the connection lives.
    await until(async () => (await streamConsumers(jsm)).length === 0);
    for (let index = 0; index < 3; index++) await js.publish(names.logSubject, `n${index}`);
    const info = await jsm.streams.info(names.stream);
    expect(info.state.messages).to.equal(8);
    expect(info.state.consumer_count).to.equal(0);
  });
});
