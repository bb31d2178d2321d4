/**
 * Unsigned LEB128 varints of safe integers (up to 2^53 - 1), as protobuf and the segment format
 * write them. Readers stay with their callers: each reports damage in its own terms.
 */

/**
 * Writes the varint of `value` at `offset`; returns the offset after it.
 *
 * @example
 * ```ts
 * const end = writeVarint(buffer, 0, 300); // bytes ac 02, end = 2
 * ```
 */
export function writeVarint(target: Uint8Array, offset: number, value: number): number {
  // Most lengths fit one byte: no loop for them.
  if (value < 0x80) {
    target[offset] = value;
    return offset + 1;
  }
  let at = offset;
  let rest = value;
  while (rest >= 0x80) {
    target[at++] = (rest % 0x80) | 0x80;
    rest = Math.floor(rest / 0x80);
  }
  target[at++] = rest;
  return at;
}

/**
 * How many bytes {@link writeVarint} writes for `value`.
 *
 * @example
 * ```ts
 * varintBytes(127); // 1
 * varintBytes(128); // 2
 * ```
 */
export function varintBytes(value: number): number {
  let bytes = 1;
  let rest = value;
  while (rest >= 0x80) {
    rest = Math.floor(rest / 0x80);
    bytes++;
  }
  return bytes;
}
