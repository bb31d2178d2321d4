import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createTempDirectory } from '@strata/testing';
import type { NodeProcess } from './helpers.js';
import { startNodeProcess } from './helpers.js';
import { STATUS_BY_CODE } from '../src/http/errors.js';
import { ROUTES } from '../src/http/route-table.js';
import { API_REFERENCE_FILE, renderApiReference } from '../scripts/api-reference.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The address every example uses; each document's examples run against a fresh node instead. */
const EXAMPLE_ORIGIN = 'http://127.0.0.1:7070';

/** One `$ command` of a console block and the output the document shows for it. */
interface Example {
  readonly line: number;
  readonly command: string;
  readonly expected: string;
}

/**
 * The examples of a Markdown document: every ```console block, split into `$ ` commands
 * (a line ending in `\` continues) and the lines shown after each as its output.
 */
function examplesOf(markdown: string): Example[] {
  const examples: Example[] = [];
  const lines = markdown.split('\n');
  let inConsole = false;
  let current: { line: number; command: string[]; output: string[]; open: boolean } | undefined;
  const finish = (): void => {
    if (current) {
      examples.push({
        line: current.line,
        command: current.command.join('\n'),
        expected: current.output.join('\n').trim(),
      });
    }
    current = undefined;
  };
  lines.forEach((text, index) => {
    if (!inConsole) {
      inConsole = text.trim() === '```console';
      return;
    }
    if (text.trim() === '```') {
      finish();
      inConsole = false;
      return;
    }
    if (current?.open) {
      current.command.push(text);
      current.open = text.endsWith('\\');
    } else if (text.startsWith('$ ')) {
      finish();
      current = {
        line: index + 1,
        command: [text.slice(2)],
        output: [],
        open: text.endsWith('\\'),
      };
    } else current?.output.push(text);
  });
  return examples;
}

/**
 * True when `actual` is what the document shows: the same text, where `...` in the document
 * stands for any text (timestamps, ids, long lists).
 */
function matches(expected: string, actual: string): boolean {
  const pattern = expected
    .split('...')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[\\s\\S]*');
  return new RegExp(`^${pattern}$`).test(actual.replace(/\r\n/g, '\n').trim());
}

function run(command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', ['-c', command], { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command}\n${stderr}`, { cause: error }));
      else resolve(stdout);
    });
  });
}

const DOCUMENTS = [
  'README.md',
  ...readdirSync(`${ROOT}docs`)
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

describe('documentation examples run as written', function () {
  it('the matcher is strict outside "..."', function () {
    expect(matches('{"seqno":1}', '{"seqno":1}\n')).to.equal(true);
    expect(matches('{"seqno":1}', '{"seqno":2}')).to.equal(false);
    expect(matches('{"items":[...],"at":3}', '{"items":[{"key":"a"}],"at":3}')).to.equal(true);
    expect(matches('{"items":[...],"at":3}', '{"items":[],"at":4}')).to.equal(false);
  });

  it('the API reference lists every error code with its status', function () {
    const reference = readFileSync(`${ROOT}docs/HTTP-API.md`, 'utf8');
    const listed = new Map<string, number>();
    for (const match of reference.matchAll(/^\| `([A-Z_]+)` +\| +(\d{3}) \|/gm)) {
      listed.set(match[1] as string, Number(match[2]));
    }
    expect(Object.fromEntries(listed)).to.deep.equal({ ...STATUS_BY_CODE });
  });

  it('docs/API.md is exactly what the OpenAPI document renders to (npm run docs:api)', async function () {
    const committed = readFileSync(API_REFERENCE_FILE, 'utf8');
    expect(committed === (await renderApiReference()), 'run npm run docs:api').to.equal(true);
  });

  it('the guide names every public route and every query parameter it takes', function () {
    const reference = readFileSync(`${ROOT}docs/HTTP-API.md`, 'utf8');
    for (const route of ROUTES.filter((spec) => !spec.path.startsWith('/v1/internal/'))) {
      const row = reference
        .split('\n')
        .find(
          (line) =>
            line.includes(`\`${route.method} ${route.path}\``) ||
            line.includes(`\`${route.method} ${route.path}\`,`),
        );
      expect(row, `${route.method} ${route.path}`).to.not.equal(undefined);
      for (const name of route.query) {
        expect(row, `${route.method} ${route.path} ${name}`).to.include(name);
      }
    }
  });

  for (const document of DOCUMENTS) {
    const examples = examplesOf(readFileSync(`${ROOT}${document}`, 'utf8'));
    if (examples.length === 0) continue;
    describe(document, function () {
      let node: NodeProcess;
      let data: { path: string; remove(): Promise<void> };
      before(async function () {
        data = await createTempDirectory('strata-docs-');
        node = await startNodeProcess(data.path);
      });
      after(async function () {
        expect(await node?.stop()).to.equal(0);
        await data?.remove();
      });
      // In order: each example may build on the writes of the ones before it.
      it(`its ${examples.length} console examples print what the document shows`, async function () {
        for (const example of examples) {
          const actual = await run(example.command.split(EXAMPLE_ORIGIN).join(node.url));
          expect(
            matches(example.expected, actual),
            `${document}:${example.line}: $ ${example.command}\nshown:\n${example.expected}\nprinted:\n${actual}`,
          ).to.equal(true);
        }
      });
    });
  }
});
