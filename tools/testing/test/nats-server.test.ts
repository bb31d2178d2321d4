import { expect } from 'chai';
import { AckPolicy, DeliverPolicy, connect, StringCodec } from 'nats';
import { startNatsServer } from '../src/index.js';
import type { NatsServerHandle } from '../src/index.js';

describe('startNatsServer', () => {
  let server: NatsServerHandle;

  before(async () => {
    server = await startNatsServer();
  });

  after(async () => {
    await server?.stop();
  });

  it('runs JetStream on 127.0.0.1: a publish and consume round trip keeps order and bytes', async () => {
    expect(server.url).to.match(/^nats:\/\/127\.0\.0\.1:\d+$/);
    const nc = await connect({ servers: server.url });
    try {
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({ name: 'ROUNDTRIP', subjects: ['roundtrip.>'] });
      const js = nc.jetstream();
      const codec = StringCodec();
      const sent = ['alpha', 'beta', 'gamma'];
      const acks = [];
      for (const [index, text] of sent.entries()) {
        acks.push(
          await js.publish('roundtrip.events', codec.encode(text), { msgID: `id-${index}` }),
        );
      }
      expect(acks.map((ack) => ack.seq)).to.deep.equal([1, 2, 3]);
      const duplicate = await js.publish('roundtrip.events', codec.encode('alpha'), {
        msgID: 'id-0',
      });
      expect(duplicate.duplicate).to.equal(true);

      await jsm.consumers.add('ROUNDTRIP', {
        durable_name: 'reader',
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
      });
      const consumer = await js.consumers.get('ROUNDTRIP', 'reader');
      const received: string[] = [];
      const messages = await consumer.fetch({ max_messages: 3, expires: 5000 });
      for await (const message of messages) {
        received.push(codec.decode(message.data));
        message.ack();
      }
      expect(received).to.deep.equal(sent);
    } finally {
      await nc.close();
    }
  });

  it('is stopped by PID: the port stops accepting connections', async () => {
    const other = await startNatsServer();
    const pid = other.pid;
    expect(pid).to.be.greaterThan(0);
    await other.stop();
    expect(() => process.kill(pid, 0)).to.throw();
    let refused = false;
    try {
      const nc = await connect({ servers: other.url, reconnect: false, timeout: 1000 });
      await nc.close();
    } catch {
      refused = true;
    }
    expect(refused).to.equal(true);
  });
});
