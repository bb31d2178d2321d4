import { StrataClientError } from './client-error.js';

/** Keys, values and prefixes: UTF-8 text or bytes. */
export type BytesInput = string | Uint8Array;

/** `input` as a Buffer (a string as UTF-8; bytes are not copied). */
export function toBuffer(input: BytesInput): Buffer {
  if (typeof input === 'string') return Buffer.from(input, 'utf8');
  if (input instanceof Uint8Array) return Buffer.from(input.buffer, input.byteOffset, input.length);
  throw new StrataClientError('INVALID_ARGUMENT', 'a key or value must be a string or bytes');
}

/** `input` as base64 (what every JSON field and query parameter carries; binary-safe). */
export function toBase64(input: BytesInput): string {
  return toBuffer(input).toString('base64');
}

/** A base64 field of an answer as bytes; `null` stays `null`. */
export function fromBase64(text: unknown, field: string): Buffer {
  if (typeof text !== 'string') {
    throw new StrataClientError('BAD_RESPONSE', `${field} is not a base64 string in the answer`);
  }
  return Buffer.from(text, 'base64');
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/**
 * A key as the path segment of `/v1/kv/:key`: every byte percent-encoded but the URL's unreserved
 * characters. The keys `.` and `..` cannot be sent (URLs resolve them as path steps before the
 * request leaves): `INVALID_ARGUMENT`; write them in a batch, read them with a range.
 */
export function keyPathSegment(key: BytesInput): string {
  const bytes = toBuffer(key);
  if (bytes.length === 0) throw new StrataClientError('INVALID_ARGUMENT', 'key must not be empty');
  let out = '';
  for (const byte of bytes) {
    const char = String.fromCharCode(byte);
    out +=
      byte < 0x80 && UNRESERVED.test(char)
        ? char
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  if (out === '.' || out === '..') {
    throw new StrataClientError(
      'INVALID_ARGUMENT',
      `the key ${out} cannot be a URL path segment; write it in a batch and read it with a range`,
    );
  }
  return out;
}
