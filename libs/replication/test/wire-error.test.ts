import { expect } from 'chai';
import { STRATA_ERROR_CODES } from '@strata/core';
import { receivedErrorCode, unknownCodeNote } from '../src/wire/wire-error.js';

describe('receivedErrorCode: codes from the wire are checked against STRATA_ERROR_CODES', () => {
  it('passes every Strata code through, and nothing else', () => {
    for (const code of STRATA_ERROR_CODES)
      expect(receivedErrorCode(code, 'INTERNAL')).to.deep.equal({ code, unknownCode: undefined });
    expect(receivedErrorCode('NEWER_CODE', 'INTERNAL')).to.deep.equal({
      code: 'INTERNAL',
      unknownCode: 'NEWER_CODE',
    });
    expect(receivedErrorCode('not_leader', 'IO_ERROR')).to.deep.equal({
      code: 'IO_ERROR',
      unknownCode: 'not_leader',
    });
    expect(receivedErrorCode(503, 'INTERNAL')).to.deep.equal({
      code: 'INTERNAL',
      unknownCode: '503',
    });
  });

  it('takes an absent code as the fallback without a note', () => {
    expect(receivedErrorCode(undefined, 'INTERNAL')).to.deep.equal({
      code: 'INTERNAL',
      unknownCode: undefined,
    });
    expect(unknownCodeNote(receivedErrorCode(null, 'INTERNAL'))).to.equal('');
    expect(unknownCodeNote(receivedErrorCode('X_Y', 'INTERNAL'))).to.equal(
      ' (sent code "X_Y", not a Strata error code)',
    );
  });
});
