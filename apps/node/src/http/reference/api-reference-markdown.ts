import { STATUS_BY_CODE } from '../errors.js';

/** The parts of an OpenAPI document the reference reads (it is otherwise plain JSON). */
type Json = Readonly<Record<string, unknown>>;

const METHODS = ['get', 'put', 'post', 'delete'] as const;

/**
 * Renders docs/API.md from the OpenAPI document the node serves: every route with its parameters,
 * body, answer, error codes by status and a runnable curl example, then the error-code table. The
 * docs test checks the committed file is exactly this (after prettier) and runs every example.
 */
export function apiReferenceMarkdown(document: Json): string {
  const paths = document.paths as Record<string, Json>;
  const operations: { method: string; path: string; operation: Json }[] = [];
  for (const [path, item] of Object.entries(paths)) {
    for (const method of METHODS) {
      const operation = item[method] as Json | undefined;
      if (operation) operations.push({ method: method.toUpperCase(), path, operation });
    }
  }
  operations.sort((a, b) => Number(a.operation['x-order']) - Number(b.operation['x-order']));
  const lines: string[] = [
    '# Strata HTTP API reference',
    '',
    `Generated from the OpenAPI ${String(document.openapi)} document every node serves at`,
    '`GET /v1/openapi.json`, which is built from the same schemas the node validates requests with;',
    'regenerate with `npm run docs:api`, never by hand. Concepts (seqnos, conditional writes, time to',
    'live, acknowledgements) are explained in [HTTP-API.md](HTTP-API.md). Every example below runs, in',
    'order, against a fresh standalone node in the docs test and must print what is shown (`...` stands',
    'for text that differs from run to run).',
    '',
    'Every route but those marked _public_ needs `Authorization: Bearer TOKEN` when the node runs with',
    '`--token`. A query parameter or body field a route does not take is refused with 400',
    '`INVALID_ARGUMENT` naming it; a known path with another method answers 405 `METHOD_NOT_ALLOWED`',
    'with `Allow`. Every refusal is `{"error":{"code","message"}}`.',
    '',
    '| route | summary |',
    '| --- | --- |',
  ];
  for (const { method, path, operation } of operations) {
    lines.push(
      `| [\`${method} ${path}\`](#${anchor(method, path)}) | ${cell(String(operation.summary))} |`,
    );
  }
  for (const tag of document.tags as readonly Json[]) {
    lines.push('', `## ${capitalise(String(tag.name))}`, '', String(tag.description));
    const tagged = operations.filter(({ operation }) =>
      (operation.tags as string[]).includes(String(tag.name)),
    );
    for (const entry of tagged)
      lines.push('', ...operationSection(entry.method, entry.path, entry.operation));
  }
  lines.push('', '## Error codes', '', '| code | status |', '| --- | --: |');
  const codes = Object.entries(STATUS_BY_CODE).sort(
    (a, b) => a[1] - b[1] || a[0].localeCompare(b[0]),
  );
  for (const [code, status] of codes) lines.push(`| \`${code}\` | ${status} |`);
  return `${lines.join('\n')}\n`;
}

function operationSection(method: string, path: string, operation: Json): string[] {
  const marks = [
    Array.isArray(operation.security) && operation.security.length === 0 ? '_public_' : undefined,
    operation['x-internal'] ? '_internal (node to node)_' : undefined,
  ].filter((mark) => mark !== undefined);
  const lines = [
    `### ${method} ${path}`,
    '',
    `**${String(operation.summary)}.**${marks.length > 0 ? ` ${marks.join(', ')}.` : ''} ${String(operation.description)}`,
  ];
  const parameters = (operation.parameters as readonly Json[]) ?? [];
  if (parameters.length > 0) {
    lines.push('', '| parameter | in | type | description |', '| --- | --- | --- | --- |');
    for (const parameter of parameters) {
      lines.push(
        `| \`${String(parameter.name)}\` | ${String(parameter.in)} | ${typeOf(parameter.schema as Json)} | ${cell(String(parameter.description))} |`,
      );
    }
  }
  const body = operation.requestBody as Json | undefined;
  if (body) {
    const [contentType, media] = Object.entries(body.content as Record<string, Json>)[0] ?? [];
    lines.push('', `**Body** (\`${String(contentType)}\`): ${String(body.description)}`);
    if (media?.schema) {
      lines.push('', '```json', JSON.stringify(media.schema, null, 2), '```');
    }
  }
  const responses = operation.responses as Record<string, Json>;
  lines.push('', '| answer | content | meaning |', '| --- | --- | --- |');
  for (const [status, response] of Object.entries(responses)) {
    const codes = response['x-error-codes'] as readonly string[] | undefined;
    const content = Object.keys((response.content as Json | undefined) ?? {})[0] ?? '';
    const meaning = codes
      ? codes.map((code) => `\`${code}\``).join(', ')
      : cell(String(response.description).replace(/\.$/, '')) + headersOf(response);
    lines.push(`| ${status} | \`${content}\` | ${meaning} |`);
  }
  const sample = (operation['x-codeSamples'] as readonly Json[] | undefined)?.[0];
  if (sample) {
    lines.push('', '```console', `$ ${String(sample.source)}`, String(sample['x-output']), '```');
  }
  return lines;
}

function headersOf(response: Json): string {
  const headers = response.headers as Record<string, Json> | undefined;
  if (!headers) return '';
  return `; headers ${Object.keys(headers)
    .map((name) => `\`${name}\``)
    .join(', ')}`;
}

function typeOf(schema: Json | undefined): string {
  if (!schema) return '';
  if (Array.isArray(schema.enum))
    return schema.enum
      .map((value) => `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``)
      .join(' \\| ');
  const type = typeof schema.type === 'string' ? schema.type : 'string';
  if (type === 'integer' && typeof schema.minimum === 'number')
    return `integer ≥ ${schema.minimum}`;
  return type;
}

/** A table cell: no line breaks, pipes escaped. */
function cell(text: string): string {
  return text.replace(/\n/g, ' ').replace(/\|/g, '\\|');
}

/** GitHub's heading anchor for `### METHOD /path/{key}`. */
function anchor(method: string, path: string): string {
  return `${method} ${path}`
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
