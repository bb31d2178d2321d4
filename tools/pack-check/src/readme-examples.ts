/**
 * The runnable examples of a package README. A ```js block is a program run with plain `node`;
 * the ```text block that follows it (before any other fenced block) is what it must print. A
 * ```console block holds `$ ` commands, each followed by the output it must print. In expected
 * output, `...` stands for any text. Other blocks (```sh, ```ts) are not run.
 */

/** A program of a ```js block and, when the README shows it, its output. */
export interface ProgramExample {
  readonly kind: 'program';
  /** Line of the opening fence (1-based). */
  readonly line: number;
  readonly source: string;
  readonly expected: string | undefined;
}

/** One `$ command` of a ```console block and the output shown after it. */
export interface CommandExample {
  readonly kind: 'command';
  readonly line: number;
  readonly command: string;
  readonly expected: string;
}

/** A runnable example, in README order. */
export type ReadmeExample = ProgramExample | CommandExample;

interface FencedBlock {
  readonly language: string;
  readonly line: number;
  readonly lines: string[];
}

function fencedBlocks(markdown: string): FencedBlock[] {
  const blocks: FencedBlock[] = [];
  let open: FencedBlock | undefined;
  markdown.split('\n').forEach((text, index) => {
    if (open === undefined) {
      const fence = /^```(\S*)\s*$/.exec(text);
      if (fence) open = { language: fence[1] ?? '', line: index + 1, lines: [] };
    } else if (text.trim() === '```') {
      blocks.push(open);
      open = undefined;
    } else open.lines.push(text);
  });
  return blocks;
}

function commandsOf(block: FencedBlock): CommandExample[] {
  const examples: CommandExample[] = [];
  let current: { line: number; command: string[]; output: string[]; open: boolean } | undefined;
  const finish = (): void => {
    if (current) {
      examples.push({
        kind: 'command',
        line: current.line,
        command: current.command.join('\n'),
        expected: current.output.join('\n').trim(),
      });
    }
    current = undefined;
  };
  block.lines.forEach((text, index) => {
    if (current?.open) {
      current.command.push(text);
      current.open = text.endsWith('\\');
    } else if (text.startsWith('$ ')) {
      finish();
      const line = block.line + index + 1;
      current = { line, command: [text.slice(2)], output: [], open: text.endsWith('\\') };
    } else current?.output.push(text);
  });
  finish();
  return examples;
}

/** The runnable examples of a README, in order. */
export function readmeExamples(markdown: string): ReadmeExample[] {
  const blocks = fencedBlocks(markdown);
  const examples: ReadmeExample[] = [];
  blocks.forEach((block, index) => {
    if (block.language === 'js') {
      const next = blocks[index + 1];
      examples.push({
        kind: 'program',
        line: block.line,
        source: block.lines.join('\n') + '\n',
        expected: next?.language === 'text' ? next.lines.join('\n').trim() : undefined,
      });
    } else if (block.language === 'console') examples.push(...commandsOf(block));
  });
  return examples;
}

/** `text` as a regular expression, where `...` stands for any text. */
function linePattern(text: string): string {
  return text
    .split('...')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[\\s\\S]*');
}

/**
 * True when `actual` is the `expected` text (line endings and surrounding blank space aside).
 * In `expected`, a line that is only `...` stands for any number of lines, none included, and
 * `...` within a line for any text.
 */
export function matchesExpected(expected: string, actual: string): boolean {
  let pattern = '';
  let first = true;
  let anyLines = false;
  for (const line of expected.split('\n')) {
    if (line.trim() === '...') {
      anyLines = true;
      continue;
    }
    const literal = linePattern(line);
    if (first) pattern += anyLines ? `(?:[\\s\\S]*\\n)?${literal}` : literal;
    else pattern += anyLines ? `(?:\\n[\\s\\S]*)?\\n${literal}` : `\\n${literal}`;
    first = false;
    anyLines = false;
  }
  if (anyLines) pattern += first ? '[\\s\\S]*' : '(?:\\n[\\s\\S]*)?';
  return new RegExp(`^${pattern}$`).test(actual.replace(/\r\n/g, '\n').trim());
}
