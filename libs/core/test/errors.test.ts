import { expect } from 'chai';
import {
  STRATA_ERROR_CODES,
  StrataError,
  corruptionError,
  invariant,
  ioError,
  isStrataError,
  isStrataErrorCode,
} from '../src/index.js';

describe('StrataError', () => {
  it('carries a stable code, details and the cause', () => {
    const cause = new Error('disk');
    const error = new StrataError('IO_ERROR', 'write failed', { cause, details: { file: '/x' } });
    expect(error).to.be.instanceOf(Error);
    expect(error.name).to.equal('StrataError');
    expect(error.code).to.equal('IO_ERROR');
    expect(error.details).to.deep.equal({ file: '/x' });
    expect(error.cause).to.equal(cause);
    expect(isStrataError(error)).to.equal(true);
    expect(isStrataError(error, 'IO_ERROR')).to.equal(true);
    expect(isStrataError(error, 'CORRUPTION')).to.equal(false);
    expect(isStrataError(new Error('plain'))).to.equal(false);
  });

  it('corruptionError names the file and offset', () => {
    const error = corruptionError('/data/wal/1.log', 4096, 'checksum mismatch');
    expect(error.code).to.equal('CORRUPTION');
    expect(error.details).to.include({ file: '/data/wal/1.log', offset: 4096 });
    expect(error.message).to.contain('/data/wal/1.log').and.contain('4096');
  });

  it('ioError maps ENOSPC to NO_SPACE and anything else to IO_ERROR', () => {
    const full = ioError('write', '/f', Object.assign(new Error('full'), { code: 'ENOSPC' }));
    const broken = ioError('fsync', '/f', Object.assign(new Error('io'), { code: 'EIO' }));
    expect(full.code).to.equal('NO_SPACE');
    expect(broken.code).to.equal('IO_ERROR');
    expect(broken.details).to.include({ errno: 'EIO', file: '/f' });
  });

  it('invariant throws INTERNAL when the condition is false', () => {
    expect(() => invariant(1 + 1 === 2, 'math')).not.to.throw();
    try {
      invariant(false, 'seqnos must ascend');
      expect.fail('invariant did not throw');
    } catch (error) {
      expect(isStrataError(error, 'INTERNAL')).to.equal(true);
      expect((error as Error).message).to.contain('seqnos must ascend');
    }
  });
});

describe('STRATA_ERROR_CODES', () => {
  it('isStrataErrorCode accepts the listed codes and refuses anything else', () => {
    expect(STRATA_ERROR_CODES).to.include.members(['CORRUPTION', 'NOT_LEADER', 'INTERNAL']);
    expect(new Set(STRATA_ERROR_CODES).size).to.equal(STRATA_ERROR_CODES.length);
    for (const code of STRATA_ERROR_CODES) expect(isStrataErrorCode(code)).to.equal(true);
    for (const other of ['NOT_A_CODE', 'timeout', '', 'TIMEOUT ', 42, undefined, null, {}])
      expect(isStrataErrorCode(other)).to.equal(false);
  });
});
