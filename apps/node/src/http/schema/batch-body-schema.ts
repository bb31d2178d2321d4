import type { JsonSchema } from './parameters.js';

const ENCODING_FIELD = { type: 'string', enum: ['utf8', 'base64'] };
const KEY_FIELD = {
  type: 'string',
  minLength: 1,
  description: 'A key (UTF-8 text, or base64 with `encoding`).',
};
const SEQNO_FIELD = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER };

/** `{"type":"put","key","value"}` with an optional condition and time to live. */
const PUT_OP: JsonSchema = {
  type: 'object',
  required: ['type', 'key', 'value'],
  additionalProperties: false,
  properties: {
    type: { const: 'put' },
    key: KEY_FIELD,
    value: { type: 'string', description: 'The value (UTF-8 text, or base64 with `encoding`).' },
    ifSeqno: {
      ...SEQNO_FIELD,
      description: "Write only if the key's version is this (0: absent).",
    },
    ttlMs: { type: 'integer', minimum: 1, description: 'Time to live in milliseconds.' },
    encoding: ENCODING_FIELD,
  },
};

/** `{"type":"delete","key"}` with an optional condition. */
const DELETE_OP: JsonSchema = {
  type: 'object',
  required: ['type', 'key'],
  additionalProperties: false,
  properties: {
    type: { const: 'delete' },
    key: KEY_FIELD,
    ifSeqno: { ...SEQNO_FIELD, description: "Delete only if the key's version is this." },
    encoding: ENCODING_FIELD,
  },
};

/** `{"type":"deleteRange","prefix"}` or `{"type":"deleteRange","start","end"}`. */
const DELETE_RANGE_OP: JsonSchema = {
  type: 'object',
  required: ['type'],
  additionalProperties: false,
  properties: {
    type: { const: 'deleteRange' },
    prefix: { ...KEY_FIELD, description: 'Delete every key with this prefix.' },
    start: { ...KEY_FIELD, description: 'The first key deleted (with `end`).' },
    end: { ...KEY_FIELD, description: 'The first key past the range (exclusive).' },
    encoding: ENCODING_FIELD,
  },
};

/**
 * The body of `POST /v1/batch`: operations applied as one atomic log record, and prefix checks
 * that must all hold for anything to be written. A field the schema does not name is refused.
 * `type` picks the operation's schema (an OpenAPI discriminator), so a refusal names the field of
 * the operation that is wrong rather than every alternative.
 */
export const BATCH_BODY_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['ops'],
  additionalProperties: false,
  properties: {
    ops: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['type'],
        discriminator: { propertyName: 'type' },
        oneOf: [PUT_OP, DELETE_OP, DELETE_RANGE_OP],
      },
    },
    checks: {
      type: 'array',
      description: 'Every check must hold, or nothing is written (409 CONFLICT).',
      items: {
        type: 'object',
        required: ['prefix', 'noWritesAfter'],
        additionalProperties: false,
        properties: {
          prefix: { ...KEY_FIELD, description: 'A key prefix.' },
          noWritesAfter: {
            ...SEQNO_FIELD,
            description: 'No key with the prefix may have been written after this seqno.',
          },
        },
      },
    },
    encoding: {
      ...ENCODING_FIELD,
      description: 'The encoding of every key and value (an op may override it).',
    },
  },
};
