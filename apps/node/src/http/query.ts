import { invalidArgument } from './errors.js';

/** A parsed query string as fastify hands it over (repeated parameters become arrays). */
export type Query = Readonly<Record<string, string | string[] | undefined>>;

/** One query parameter as a string; a repeated parameter is `INVALID_ARGUMENT`. */
export function queryString(query: Query, name: string): string | undefined {
  const value = query[name];
  if (Array.isArray(value))
    throw invalidArgument(`query parameter ${name} is given more than once`);
  return value;
}

/** A non-negative integer query parameter (a seqno, a limit), or undefined when absent. */
export function queryInteger(query: Query, name: string, minimum = 0): number | undefined {
  const text = queryString(query, name);
  if (text === undefined) return undefined;
  if (!/^\d{1,16}$/.test(text)) {
    throw invalidArgument(`${name} must be an integer of at least ${minimum}, got "${text}"`);
  }
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < minimum) {
    throw invalidArgument(`${name} must be an integer of at least ${minimum}, got "${text}"`);
  }
  return value;
}

/** A boolean query parameter: `true`/`1`/`false`/`0`, or `fallback` when absent. */
export function queryBoolean(query: Query, name: string, fallback = false): boolean {
  const text = queryString(query, name);
  if (text === undefined || text === '') return text === '' ? true : fallback;
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  throw invalidArgument(`${name} must be true or false, got "${text}"`);
}
