import { enumParameter, integerParameter } from './parameters.js';
import type { JsonSchema } from './parameters.js';
import type { HeaderSpec } from './route-spec.js';

/** `acks`: when a write is answered (default: the node's `--acks`). */
export const ACKS = enumParameter(
  'acks',
  'When the write is answered: `quorum` once a majority of the cluster has it (the cluster default), ' +
    "`leader` after the leader's own fsync (may be lost if that leader dies before its followers have it). " +
    'A standalone node always answers after its own sync.',
  ['leader', 'quorum'],
);

/** `encoding`: how keys and values appear in JSON and in key-bound parameters. */
export const ENCODING = enumParameter(
  'encoding',
  'How keys and values are written in JSON and in the key parameters: UTF-8 text (default) or base64.',
  ['utf8', 'base64'],
);

/** `ifSeqno`: a conditional write. */
export const IF_SEQNO = integerParameter(
  'ifSeqno',
  "Write only if the key's version (the seqno of its last put; 0 when absent) is this; else 409 CONFLICT and nothing is written.",
);

/** `at`: a read as of a seqno. */
export const AT = integerParameter(
  'at',
  'Read the state as of this seqno (within the readable history; older is 410 HISTORY_TRUNCATED).',
);

/** The precondition headers of single-key writes. */
export const PRECONDITION_HEADERS: readonly HeaderSpec[] = [
  {
    name: 'If-Match',
    description:
      'The key\'s version as an entity tag (`"42"`, the ETag a GET answered): write only if it is still the version.',
    schema: { type: 'string', pattern: '^"[0-9]{1,16}"$' },
  },
  {
    name: 'If-None-Match',
    description: '`*`: write only if the key is absent (version 0).',
    schema: { type: 'string', enum: ['*'] },
  },
];

/** `{"seqno","epoch"}`: the answer of a single write. */
export const WRITE_RESULT: JsonSchema = {
  type: 'object',
  required: ['seqno', 'epoch'],
  properties: {
    seqno: { type: 'integer', description: 'The seqno the write took.' },
    epoch: { type: 'integer', description: 'The leadership term it was written in.' },
  },
};

/** The error codes a write may answer with, besides the common ones. */
export const WRITE_ERRORS = [
  'NOT_LEADER',
  'CONFLICT',
  'REPLICATION_BACKLOG',
  'OUTCOME_UNKNOWN',
  'TIMEOUT',
  'IO_ERROR',
  'NO_SPACE',
  'READ_ONLY',
] as const;

/** The percent-encoded key of `/v1/kv/:key` and `/v1/history/:key`. */
export const KEY_PATH_PARAMETER = {
  name: 'key',
  description:
    'The key, percent-encoded bytes (1 byte to 64 KiB): the whole rest of the path, so `/`, `%2F` and `..` are key bytes.',
};
