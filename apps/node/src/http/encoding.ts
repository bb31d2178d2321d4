import { invalidArgument } from './errors.js';

/** How keys and values appear in JSON: UTF-8 text (the default) or base64. */
export type JsonEncoding = 'utf8' | 'base64';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes a percent-encoded path segment to bytes. Every `%XX` becomes that byte, so UTF-8 text
 * and arbitrary binary keys both work; `/`, `..` and `%2F` are ordinary key bytes (keys are never
 * file paths). A malformed escape is `INVALID_ARGUMENT`.
 */
export function percentDecodeToBytes(text: string, what = 'key'): Buffer {
  const raw = Buffer.from(text, 'utf8');
  if (!raw.includes(0x25)) return raw;
  const out = Buffer.allocUnsafe(raw.length);
  let length = 0;
  for (let index = 0; index < raw.length; index++) {
    const byte = raw[index] as number;
    if (byte !== 0x25) {
      out[length++] = byte;
      continue;
    }
    const high = hexValue(raw[index + 1]);
    const low = hexValue(raw[index + 2]);
    if (high < 0 || low < 0) {
      throw invalidArgument(`${what} has a malformed percent escape at character ${index}`);
    }
    out[length++] = high * 16 + low;
    index += 2;
  }
  return out.subarray(0, length);
}

function hexValue(byte: number | undefined): number {
  if (byte === undefined) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x41 + 10;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x61 + 10;
  return -1;
}

/** Decodes strict base64 (standard alphabet, padded); anything else is `INVALID_ARGUMENT`. */
export function decodeBase64(text: string, what: string): Buffer {
  if (text.length % 4 !== 0 || !BASE64.test(text)) {
    throw invalidArgument(`${what} is not valid base64`);
  }
  return Buffer.from(text, 'base64');
}

/** A JSON string field as bytes, per `encoding`. */
export function decodeJsonBytes(text: string, encoding: JsonEncoding, what: string): Buffer {
  return encoding === 'base64' ? decodeBase64(text, what) : Buffer.from(text, 'utf8');
}

/** Bytes as a JSON string, per `encoding` (UTF-8 decoding is lossy for non-UTF-8 bytes). */
export function encodeJsonBytes(bytes: Uint8Array, encoding: JsonEncoding): string {
  const buffer = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return buffer.toString(encoding === 'base64' ? 'base64' : 'utf8');
}

/** Parses an `encoding` field or query parameter (default `utf8`). */
export function parseEncoding(value: unknown, what = 'encoding'): JsonEncoding {
  if (value === undefined || value === 'utf8' || value === 'utf-8') return 'utf8';
  if (value === 'base64') return 'base64';
  throw invalidArgument(`${what} must be "utf8" or "base64"`);
}
