import { expect } from 'chai';
import { Lifecycle, StrataError, isStrataError } from '../src/index.js';

function codeOf(action: () => void): string | undefined {
  try {
    action();
    return undefined;
  } catch (error) {
    return isStrataError(error) ? error.code : 'not a StrataError';
  }
}

describe('Lifecycle', () => {
  it('moves opening -> open -> closing -> closed and refuses writes once closing', () => {
    const lifecycle = new Lifecycle('the log');
    expect(lifecycle.status).to.equal('opening');
    lifecycle.opened();
    expect(lifecycle.status).to.equal('open');
    expect(codeOf(() => lifecycle.checkWritable())).to.equal(undefined);
    expect(lifecycle.beginClose()).to.equal(true);
    expect(lifecycle.beginClose()).to.equal(false);
    expect(lifecycle.status).to.equal('closing');
    expect(codeOf(() => lifecycle.checkWritable())).to.equal('CLOSED');
    expect(codeOf(() => lifecycle.checkReadable())).to.equal(undefined);
    lifecycle.closed();
    expect(codeOf(() => lifecycle.checkReadable())).to.equal('CLOSED');
  });

  it('keeps the first failure, with its details, and refuses every later write with it', () => {
    const lifecycle = new Lifecycle('the store');
    lifecycle.opened();
    const cause = new StrataError('NO_SPACE', 'disk full', { details: { file: '/d/wal/1.log' } });
    const first = lifecycle.failStop(cause, 'a group commit failed');
    expect(first?.code).to.equal('IO_ERROR');
    expect(first?.message).to.equal(
      'a group commit failed; writes are refused until the store is reopened: disk full',
    );
    expect(first?.details).to.deep.equal({ file: '/d/wal/1.log' });
    expect(first?.cause).to.equal(cause);
    expect(lifecycle.status).to.equal('failed');
    expect(lifecycle.failStop(new Error('later'), 'another')).to.equal(undefined);
    expect(lifecycle.failure).to.equal(first);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        lifecycle.checkWritable();
        expect.fail('a failed lifecycle accepted a write');
      } catch (error) {
        expect(error).to.equal(first);
      }
    }
    expect(codeOf(() => lifecycle.checkReadable())).to.equal(undefined);
  });
});
