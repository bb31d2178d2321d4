/**
 * The complete lines of a byte stream (NDJSON), without their `\n`. A last line that the stream
 * ends without a `\n` is incomplete (the connection broke in the middle of it) and is dropped:
 * every line a server finished ends with one.
 */
export async function* ndjsonLines(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: false });
  let carry = '';
  for await (const chunk of body) {
    carry += decoder.decode(chunk, { stream: true });
    let start = 0;
    let newline = carry.indexOf('\n', start);
    while (newline >= 0) {
      if (newline > start) yield carry.slice(start, newline);
      start = newline + 1;
      newline = carry.indexOf('\n', start);
    }
    carry = carry.slice(start);
  }
}
