/** The key the crash-test writer uses for a single put or a batch member. */
export function writerKey(cycle: number, writer: number, counter: number, member?: string): string {
  return `c${cycle}-w${writer}-${counter}${member === undefined ? '' : `-${member}`}`;
}
