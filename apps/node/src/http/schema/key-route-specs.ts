import {
  ACKS,
  AT,
  ENCODING,
  IF_SEQNO,
  KEY_PATH_PARAMETER,
  PRECONDITION_HEADERS,
  WRITE_ERRORS,
  WRITE_RESULT,
} from './common-parameters.js';
import { integerParameter } from './parameters.js';
import type { RouteSpec } from './route-spec.js';

/** `PUT`, `GET`, `DELETE /v1/kv/:key` and `GET /v1/history/:key`. */
export const KEY_ROUTE_SPECS: readonly RouteSpec[] = [
  {
    method: 'PUT',
    path: '/v1/kv/:key',
    operationId: 'putKey',
    summary: 'Set a key to the request body',
    description:
      'The body is the value, bytes of any content type (up to `--max-value-bytes`, 16 MiB by default; ' +
      "over it 413 VALUE_TOO_LARGE). Answered once the write is durable under the node's sync mode " +
      'and, in a cluster, its `acks` mode. `ttlMs` gives the value a time to live.',
    tag: 'keys',
    pathParameters: [KEY_PATH_PARAMETER],
    query: [
      IF_SEQNO,
      integerParameter(
        'ttlMs',
        'Time to live in milliseconds (1 ms to about 100 years): from then on no node serves the value, and the leader writes an expiry event.',
        1,
      ),
      ACKS,
    ],
    headers: PRECONDITION_HEADERS,
    body: { contentType: 'application/octet-stream', description: 'The value (any content type).' },
    response: {
      status: 200,
      contentType: 'application/json',
      description: 'Written: the seqno the write took.',
      schema: WRITE_RESULT,
    },
    errors: ['KEY_TOO_LARGE', 'VALUE_TOO_LARGE', ...WRITE_ERRORS],
    example: {
      command: "curl -s -X PUT --data-binary 'ada' http://127.0.0.1:7070/v1/kv/user%2F1",
      output: '{"seqno":1,"epoch":1}',
    },
  },
  {
    method: 'GET',
    path: '/v1/kv/:key',
    operationId: 'getKey',
    summary: "Read a key's value",
    description:
      'Answers the value as the body, its version (the seqno of its last put) as `X-Seqno` and `ETag`, ' +
      'and a time-to-live deadline as `X-Expires-At-Ms`. `at` reads the state as of a seqno; `minSeqno` ' +
      "waits (up to `timeoutMs`, at most the node's `--max-wait-ms`) until this node has applied that seqno: " +
      'read-your-writes on a follower.',
    tag: 'keys',
    pathParameters: [KEY_PATH_PARAMETER],
    query: [
      AT,
      integerParameter('minSeqno', 'Wait until this node has applied this seqno before reading.'),
      integerParameter(
        'timeoutMs',
        "How long a `minSeqno` read may wait (capped by the node's `--max-wait-ms`; 503 TIMEOUT after).",
      ),
    ],
    response: {
      status: 200,
      contentType: 'application/octet-stream',
      description: 'The value, bytes as written.',
      headers: [
        { name: 'X-Seqno', description: "The key's version.", schema: { type: 'integer' } },
        {
          name: 'ETag',
          description: 'The version as an entity tag (`"42"`).',
          schema: { type: 'string' },
        },
        {
          name: 'X-Expires-At-Ms',
          description:
            'When the value expires (ms since the Unix epoch), for a value with a time to live.',
          schema: { type: 'integer' },
        },
      ],
    },
    errors: [
      'NOT_FOUND',
      'KEY_TOO_LARGE',
      'FUTURE_SEQNO',
      'HISTORY_TRUNCATED',
      'TIMEOUT',
      'CORRUPTION',
      'IO_ERROR',
    ],
    example: { command: 'curl -s http://127.0.0.1:7070/v1/kv/user%2F1', output: 'ada' },
  },
  {
    method: 'DELETE',
    path: '/v1/kv/:key',
    operationId: 'deleteKey',
    summary: 'Delete a key',
    description:
      'A delete is an event with its own seqno, like a put; deleting an absent key is not an error. ' +
      'The same conditions as a put.',
    tag: 'keys',
    pathParameters: [KEY_PATH_PARAMETER],
    query: [IF_SEQNO, ACKS],
    headers: PRECONDITION_HEADERS,
    response: {
      status: 200,
      contentType: 'application/json',
      description: 'Deleted: the seqno the delete took.',
      schema: WRITE_RESULT,
    },
    errors: ['KEY_TOO_LARGE', ...WRITE_ERRORS],
    example: {
      command: `curl -s -X DELETE -H 'If-Match: "1"' http://127.0.0.1:7070/v1/kv/user%2F1`,
      output: '{"seqno":2,"epoch":1}',
    },
  },
  {
    method: 'GET',
    path: '/v1/history/:key',
    operationId: 'keyHistory',
    summary: "A key's versions, newest first",
    description:
      'Every put and delete of the key within the readable history, newest first, in pages: pass the ' +
      "answer's `cursor` as `before` for the next page. `truncated` is true when older versions fell out " +
      'of the history window.',
    tag: 'keys',
    pathParameters: [KEY_PATH_PARAMETER],
    query: [
      integerParameter('limit', 'Most versions in one page (default 100).', 1),
      integerParameter(
        'before',
        "Only versions with a seqno below this (the previous page's `cursor`).",
      ),
      ENCODING,
    ],
    response: {
      status: 200,
      contentType: 'application/json',
      description: 'One page of versions.',
      schema: {
        type: 'object',
        required: ['key', 'versions', 'cursor', 'truncated', 'oldestReadableSeqno'],
        properties: {
          key: { type: 'string' },
          versions: {
            type: 'array',
            items: {
              type: 'object',
              required: ['seqno', 'type', 'value', 'timestamp'],
              properties: {
                seqno: { type: 'integer' },
                type: { type: 'string', enum: ['put', 'delete'] },
                value: { type: ['string', 'null'] },
                timestamp: { type: ['integer', 'null'], description: 'ms since the Unix epoch' },
                expiresAt: { type: 'integer' },
                expired: { type: 'boolean' },
              },
            },
          },
          cursor: {
            type: ['integer', 'null'],
            description: "The next page's `before`; null on the last page.",
          },
          truncated: { type: 'boolean' },
          oldestReadableSeqno: { type: 'integer' },
        },
      },
    },
    errors: ['KEY_TOO_LARGE', 'CORRUPTION', 'IO_ERROR'],
    example: {
      command: 'curl -s http://127.0.0.1:7070/v1/history/user%2F1',
      output:
        '{"key":"user/1","versions":[{"seqno":2,"type":"delete","value":null,"timestamp":...},' +
        '{"seqno":1,"type":"put","value":"ada","timestamp":...}],"cursor":null,"truncated":false,"oldestReadableSeqno":...}',
    },
  },
];
