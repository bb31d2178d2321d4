import type { FastifyRequest } from 'fastify';
import type { Conflict, WriteOptions } from '@strata/store';
import { invalidArgument } from './errors.js';
import { queryInteger } from './query.js';
import type { Query } from './query.js';

/** A version as an entity tag: the seqno of the key's last put, quoted (`"42"`). */
export function versionTag(seqno: number): string {
  return `"${seqno}"`;
}

/**
 * The condition of a `PUT` or `DELETE /v1/kv/:key`: `?ifSeqno=N`, or in HTTP's own spelling
 * `If-Match: "N"` (the `ETag` a GET answered with) and `If-None-Match: *` (create only: version 0).
 * Two spellings that disagree, or a form Strata cannot check (`If-Match: *`, a list of tags, a
 * weak tag), are `INVALID_ARGUMENT`.
 */
export function writeOptionsOf(request: FastifyRequest): WriteOptions {
  const fromQuery = queryInteger(request.query as Query, 'ifSeqno');
  const fromHeader = ifSeqnoFromHeaders(
    request.headers['if-match'],
    request.headers['if-none-match'],
  );
  if (fromQuery !== undefined && fromHeader !== undefined && fromQuery !== fromHeader) {
    throw invalidArgument(
      `ifSeqno=${fromQuery} and the precondition header (seqno ${fromHeader}) disagree`,
    );
  }
  const ifSeqno = fromQuery ?? fromHeader;
  return ifSeqno === undefined ? {} : { ifSeqno };
}

function ifSeqnoFromHeaders(
  ifMatch: string | undefined,
  ifNoneMatch: string | undefined,
): number | undefined {
  if (ifMatch !== undefined && ifNoneMatch !== undefined) {
    throw invalidArgument('send If-Match or If-None-Match, not both');
  }
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() !== '*') {
      throw invalidArgument('If-None-Match takes only * (create the key only if it is absent)');
    }
    return 0;
  }
  if (ifMatch === undefined) return undefined;
  const match = /^\s*"(\d{1,16})"\s*$/.exec(ifMatch);
  const seqno = match ? Number(match[1]) : NaN;
  if (!Number.isSafeInteger(seqno)) {
    throw invalidArgument(
      `If-Match takes one strong tag holding the key's version, like "42" (got ${ifMatch})`,
    );
  }
  return seqno;
}

/** A conflict as the 409 body lists it: keys and prefixes as UTF-8 text, or base64 when not. */
export function conflictBody(conflict: Conflict): Record<string, unknown> {
  const bytes = conflict.kind === 'key' ? conflict.key : conflict.prefix;
  const text = bytes.toString('utf8');
  const utf8 = Buffer.from(text, 'utf8').equals(bytes);
  return {
    [conflict.kind]: utf8 ? text : bytes.toString('base64'),
    ...(utf8 ? {} : { encoding: 'base64' }),
    expectedSeqno: conflict.expectedSeqno,
    actualSeqno: conflict.actualSeqno,
  };
}
