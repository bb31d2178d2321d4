import { invalidArgument } from './errors.js';

/**
 * Parses a JSON request body (bytes, whatever the content type). Prototype poisoning is refused
 * outright: a body with a `__proto__` key, or `constructor` holding `prototype`, is
 * `INVALID_ARGUMENT` (the same rule as fastify's secure-json-parse), so no such object ever
 * reaches code that might merge it.
 */
export function parseJsonBody(body: unknown): unknown {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.alloc(0);
  if (bytes.length === 0) throw invalidArgument('the request body is empty; JSON was expected');
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'), (key, value: unknown) => {
      if (key === '__proto__') throw new PoisonError();
      if (
        key === 'constructor' &&
        value !== null &&
        typeof value === 'object' &&
        Object.prototype.hasOwnProperty.call(value, 'prototype')
      ) {
        throw new PoisonError();
      }
      return value;
    });
  } catch (error) {
    if (error instanceof PoisonError) {
      throw invalidArgument('the JSON body has a forbidden __proto__ or constructor.prototype key');
    }
    throw invalidArgument(`the body is not valid JSON: ${(error as Error).message}`);
  }
  return parsed;
}

class PoisonError extends Error {}
