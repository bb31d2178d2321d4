import { expect } from 'chai';
import { StrataClientError, fullJitterDelayMs } from '../src/index.js';
import { decideAfterAnswer, decideAfterNetworkError } from '../src/retry-policy.js';

const read = { kind: 'read', idempotent: false } as const;
const write = { kind: 'write', idempotent: false } as const;
const idempotentWrite = { kind: 'write', idempotent: true } as const;

function answer(code: string, status: number, details: Record<string, unknown> = {}) {
  return new StrataClientError(code, code, { status, details });
}

describe('retry policy: what is sent again, and where', function () {
  it('a NOT_LEADER (nothing written) naming the leader is followed by every request; one that names none sends a write on to the leader found', function () {
    const named = answer('NOT_LEADER', 421, { leaderUrl: 'http://127.0.0.1:1' });
    for (const kind of [read, write, idempotentWrite]) {
      expect(decideAfterAnswer(named, kind)).to.equal('redirect');
    }
    const unnamed = answer('NOT_LEADER', 421);
    expect(decideAfterAnswer(unnamed, write)).to.equal('find-leader');
    expect(decideAfterAnswer(unnamed, idempotentWrite)).to.equal('find-leader');
    expect(decideAfterAnswer(unnamed, read)).to.equal('elsewhere');
  });

  it('a write is retried after refusals that wrote nothing, and never after a 5xx that may have', function () {
    expect(decideAfterAnswer(answer('REPLICATION_BACKLOG', 503), write)).to.equal('retry');
    expect(decideAfterAnswer(answer('REQUEST_TIMEOUT', 408), write)).to.equal('retry');
    for (const code of ['TIMEOUT', 'OUTCOME_UNKNOWN', 'CLOSED', 'IO_ERROR', 'INTERNAL']) {
      const status = code === 'INTERNAL' ? 500 : 503;
      expect(decideAfterAnswer(answer(code, status), write), code).to.equal('unknown');
      expect(decideAfterAnswer(answer(code, status), idempotentWrite), code).to.equal('elsewhere');
    }
    for (const [code, status] of [
      ['CONFLICT', 409],
      ['NO_SPACE', 503],
      ['VALUE_TOO_LARGE', 413],
      ['UNAUTHENTICATED', 401],
    ] as const) {
      expect(decideAfterAnswer(answer(code, status), write), code).to.equal('throw');
    }
  });

  it('a read moves to another node after a 5xx, waits after FUTURE_SEQNO, and stops at a 4xx', function () {
    expect(decideAfterAnswer(answer('TIMEOUT', 503), read)).to.equal('elsewhere');
    expect(decideAfterAnswer(answer('CORRUPTION', 500), read)).to.equal('elsewhere');
    expect(decideAfterAnswer(answer('FUTURE_SEQNO', 400), read)).to.equal('wait-seqno');
    expect(decideAfterAnswer(answer('HISTORY_TRUNCATED', 410), read)).to.equal('throw');
    expect(decideAfterAnswer(answer('NOT_FOUND', 404), read)).to.equal('throw');
  });

  it('a connection refused sends any write again; a failure after sending ends a write as unknown', function () {
    const refused = new TypeError('fetch failed', {
      cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    });
    expect(decideAfterNetworkError(refused, write)).to.equal('find-leader');
    expect(decideAfterNetworkError(refused, read)).to.equal('elsewhere');
    const reset = new TypeError('fetch failed', {
      cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }),
    });
    const timedOut = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    for (const error of [reset, timedOut]) {
      expect(decideAfterNetworkError(error, write)).to.equal('unknown');
      expect(decideAfterNetworkError(error, idempotentWrite)).to.equal('elsewhere');
      expect(decideAfterNetworkError(error, read)).to.equal('elsewhere');
    }
  });

  it('full jitter: pauses are uniform below min(maxDelayMs, baseDelayMs * 2^attempt)', function () {
    expect(fullJitterDelayMs(0, 50, 1000, () => 0.999)).to.equal(49);
    expect(fullJitterDelayMs(3, 50, 1000, () => 0.5)).to.equal(200);
    expect(fullJitterDelayMs(10, 50, 1000, () => 0.999)).to.equal(999);
    expect(fullJitterDelayMs(10, 50, 1000, () => 0)).to.equal(0);
  });
});
