/**
 * Query parameters described once, seen two ways. A query string is text, so the server checks
 * each parameter as a string with an exact pattern (no loose coercion: `0x10`, `1e3` and ` 5` are
 * not integers here); the API description shows the type a client means (`integer`, `boolean`).
 * Both views come from the same {@link QueryParameter}, so the reference cannot drift from what
 * the server refuses.
 */

/** A JSON Schema object (the subset this API uses). */
export type JsonSchema = Readonly<Record<string, unknown>>;

/** One query parameter of a route. */
export interface QueryParameter {
  readonly name: string;
  readonly description: string;
  /** What the server checks: a string schema (the query string is text). */
  readonly validator: JsonSchema;
  /** What the API description shows (`integer`, `boolean`, an enum...). */
  readonly documented: JsonSchema;
  /** What a refusal says it expects, e.g. "an integer of at least 1". */
  readonly expects: string;
}

/** Up to 16 digits: every seqno and limit fits (the handler still checks the safe-integer range). */
const DIGITS = '[0-9]{1,16}';

/** An integer parameter (a seqno, a limit, a duration in ms) of at least `minimum` (0 or 1). */
export function integerParameter(
  name: string,
  description: string,
  minimum: 0 | 1 = 0,
): QueryParameter {
  return {
    name,
    description,
    validator: {
      type: 'string',
      pattern: minimum === 0 ? `^${DIGITS}$` : `^0*[1-9][0-9]{0,15}$`,
    },
    documented: { type: 'integer', minimum, maximum: Number.MAX_SAFE_INTEGER },
    expects: `an integer of at least ${minimum}`,
  };
}

/** A boolean parameter: `true`, `false`, `1`, `0`, or present without a value (true). */
export function booleanParameter(name: string, description: string): QueryParameter {
  return {
    name,
    description,
    validator: { type: 'string', enum: ['true', 'false', '1', '0', ''] },
    documented: { type: 'boolean', default: false },
    expects: 'true or false',
  };
}

/** One of a few words (`acks=leader|quorum`, `encoding=utf8|base64`). */
export function enumParameter(
  name: string,
  description: string,
  values: readonly string[],
): QueryParameter {
  return {
    name,
    description,
    validator: { type: 'string', enum: values },
    documented: { type: 'string', enum: values },
    expects: `one of ${values.join(', ')}`,
  };
}

/** Free text (a prefix, a key bound, a cursor); `minLength` 1 refuses an empty value. */
export function textParameter(name: string, description: string, minLength = 0): QueryParameter {
  const schema = { type: 'string', ...(minLength > 0 ? { minLength } : {}) };
  return {
    name,
    description,
    validator: schema,
    documented: schema,
    expects: minLength > 0 ? 'a non-empty string' : 'a string',
  };
}
