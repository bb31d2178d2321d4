import { StrataError } from '@strata/core';

function invalid(message: string, details: Record<string, unknown>): StrataError {
  return new StrataError('INVALID_ARGUMENT', message, { details });
}

/** Throws `INVALID_ARGUMENT` unless `value` is a safe integer >= `minimum` (default 0). */
export function checkCount(name: string, value: unknown, minimum = 0): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < minimum) {
    throw invalid(`${name} must be a safe integer >= ${minimum}, got ${String(value)}`, {
      [name]: value,
    });
  }
  return value;
}

// Ids travel in NATS subjects and log lines: no whitespace or control characters.
const ID_PATTERN = /^[^\s\p{Cc}]{1,256}$/u;

/** Throws `INVALID_ARGUMENT` unless `value` is a 1-256 character id without whitespace. */
export function checkId(name: string, value: unknown): string {
  if (typeof value !== 'string' || !ID_PATTERN.test(value)) {
    throw invalid(
      `${name} must be 1-256 characters without whitespace, got ${JSON.stringify(value)}`,
      { [name]: value },
    );
  }
  return value;
}

/** Throws `INVALID_ARGUMENT` unless `value` is a non-empty string. */
export function checkText(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw invalid(`${name} must be a non-empty string, got ${JSON.stringify(value)}`, {
      [name]: value,
    });
  }
  return value;
}

/** Throws `INVALID_ARGUMENT` unless `value` is one of `allowed`. */
export function checkOneOf<T extends string>(
  name: string,
  value: unknown,
  allowed: readonly T[],
): T {
  if (!allowed.includes(value as T)) {
    throw invalid(`${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`, {
      [name]: value,
    });
  }
  return value as T;
}
