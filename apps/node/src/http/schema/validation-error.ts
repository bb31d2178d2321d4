import { StrataError } from '@strata/core';
import type { RouteSpec } from './route-spec.js';

/** One error of the JSON Schema validator (ajv), as fastify hands it over. */
interface SchemaError {
  readonly keyword: string;
  readonly instancePath: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly message?: string;
}

/** What fastify raises when a request fails its route's schema. */
interface ValidationFailure {
  readonly validation: readonly SchemaError[];
  readonly validationContext?: string;
}

/** True for the error fastify raises when a request fails its route's schema. */
export function isValidationFailure(error: unknown): error is ValidationFailure {
  return Array.isArray((error as Partial<ValidationFailure> | undefined)?.validation);
}

/**
 * Turns a schema failure into `INVALID_ARGUMENT` with a message a person can act on: which query
 * parameters are unknown (all of them, and the ones the route takes), which one is malformed and
 * what it expects, or which field of the body is wrong (`ops[2].key`).
 */
export function validationError(
  failure: ValidationFailure,
  spec: RouteSpec,
  query: Readonly<Record<string, unknown>>,
): StrataError {
  const first = failure.validation[0];
  const message =
    first === undefined
      ? 'the request does not match its schema'
      : failure.validationContext === 'querystring'
        ? queryMessage(first, spec, query)
        : bodyMessage(first);
  return new StrataError('INVALID_ARGUMENT', message);
}

function queryMessage(
  error: SchemaError,
  spec: RouteSpec,
  query: Readonly<Record<string, unknown>>,
): string {
  const route = `${spec.method} ${spec.path}`;
  const names = spec.query.map((parameter) => parameter.name);
  if (error.keyword === 'additionalProperties') {
    const unknown = Object.keys(query).filter((name) => !names.includes(name));
    return `unknown query parameter${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} for ${route}; it takes ${
      names.length === 0 ? 'none' : names.join(', ')
    }`;
  }
  const name = error.instancePath.replace(/^\//, '').split('/')[0] ?? '';
  const value = query[name];
  if (Array.isArray(value)) return `query parameter ${name} is given more than once`;
  const parameter = spec.query.find((candidate) => candidate.name === name);
  return `${name} must be ${parameter?.expects ?? 'valid'}, got ${JSON.stringify(value)}`;
}

function bodyMessage(error: SchemaError): string {
  const where = fieldPath(error.instancePath);
  const params = error.params;
  switch (error.keyword) {
    case 'required':
      return `${where} needs ${String(params.missingProperty)}`;
    case 'additionalProperties':
      return `${where} has an unknown field ${String(params.additionalProperty)}`;
    case 'type':
      return `${where} must be ${article(String(params.type))}`;
    case 'minItems':
      return `${where} must not be empty`;
    case 'minLength':
      return `${where} must not be empty`;
    case 'minimum':
      return `${where} must be at least ${String(params.limit)}`;
    case 'maximum':
      return `${where} must be at most ${String(params.limit)}`;
    case 'enum':
      return `${where} must be one of ${(params.allowedValues as unknown[]).map((value) => JSON.stringify(value)).join(', ')}`;
    case 'discriminator':
      return `${where}.${String(params.tag)} must be "put", "delete" or "deleteRange", got ${
        JSON.stringify(params.tagValue) ?? 'nothing'
      }`;
    default:
      return `${where} ${error.message ?? 'is not valid'}`;
  }
}

/** `/ops/2/key` -> `ops[2].key`; the root is "the body". */
function fieldPath(instancePath: string): string {
  if (instancePath === '') return 'the body';
  return instancePath
    .slice(1)
    .split('/')
    .map((part, index) => (/^\d+$/.test(part) ? `[${part}]` : index === 0 ? part : `.${part}`))
    .join('');
}

function article(type: string): string {
  return type === 'object' || type === 'array' || type === 'integer' ? `an ${type}` : `a ${type}`;
}
