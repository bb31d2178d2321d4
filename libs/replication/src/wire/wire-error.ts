import { isStrataErrorCode } from '@strata/core';
import type { StrataErrorCode } from '@strata/core';

/** A code received from another node, checked: the code to raise and what was sent if refused. */
export interface ReceivedErrorCode {
  readonly code: StrataErrorCode;
  /** The sent code when it is not one of `STRATA_ERROR_CODES` (kept for the error's message). */
  readonly unknownCode: string | undefined;
}

/**
 * Checks an error code that came over the wire (a NATS reply, an HTTP error body) against
 * `STRATA_ERROR_CODES`: a peer of another version, or something that is not a Strata node, may
 * send a code this build does not have, and a caller branching on codes must never see one.
 * Absent: `fallback`. Unknown: `fallback`, with the sent value in `unknownCode`.
 *
 * @example
 * ```ts
 * receivedErrorCode('NOT_LEADER', 'INTERNAL'); // { code: 'NOT_LEADER', unknownCode: undefined }
 * receivedErrorCode('NEWER_CODE', 'INTERNAL'); // { code: 'INTERNAL', unknownCode: 'NEWER_CODE' }
 * ```
 */
export function receivedErrorCode(sent: unknown, fallback: StrataErrorCode): ReceivedErrorCode {
  if (sent === undefined || sent === null) return { code: fallback, unknownCode: undefined };
  if (isStrataErrorCode(sent)) return { code: sent, unknownCode: undefined };
  return { code: fallback, unknownCode: typeof sent === 'string' ? sent : JSON.stringify(sent) };
}

/** ` (sent code "X", not a Strata error code)` for a message, or '' when the code was known. */
export function unknownCodeNote(received: ReceivedErrorCode): string {
  return received.unknownCode === undefined
    ? ''
    : ` (sent code ${JSON.stringify(received.unknownCode)}, not a Strata error code)`;
}
