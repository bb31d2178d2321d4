import { expect } from 'chai';
import { matchesExpected, readmeExamples } from '../src/readme-examples.js';

describe('README examples: parsing and the output matcher', function () {
  it('a ```js block takes the ```text block right after it as its output', function () {
    const markdown = [
      '# x',
      '```js',
      "console.log('a');",
      '```',
      'It prints:',
      '```text',
      'a',
      '```',
      '```js',
      "console.log('b');",
      '```',
      '```sh',
      'npm install x',
      '```',
      '```text',
      'not the output of the second program',
      '```',
    ].join('\n');
    expect(readmeExamples(markdown)).to.deep.equal([
      { kind: 'program', line: 2, source: "console.log('a');\n", expected: 'a' },
      { kind: 'program', line: 9, source: "console.log('b');\n", expected: undefined },
    ]);
  });

  it('a ```console block gives each $ command (with continuation lines) and its output', function () {
    const markdown = ['```console', '$ echo a \\', '  b', 'a b', '$ true', '```'].join('\n');
    expect(readmeExamples(markdown)).to.deep.equal([
      { kind: 'command', line: 2, command: 'echo a \\\n  b', expected: 'a b' },
      { kind: 'command', line: 5, command: 'true', expected: '' },
    ]);
  });

  it('matches exactly outside `...`', function () {
    expect(matchesExpected('{"seqno":1}', '{"seqno":1}\n')).to.equal(true);
    expect(matchesExpected('{"seqno":1}', '{"seqno":2}')).to.equal(false);
    expect(matchesExpected('a.b', 'axb')).to.equal(false);
    expect(matchesExpected('{"at":...}', '{"at":17}')).to.equal(true);
  });

  it('a line of `...` stands for any number of lines, none included', function () {
    const expected = '...\nada\n...';
    expect(matchesExpected(expected, 'ada')).to.equal(true);
    expect(matchesExpected(expected, 'log 1\nlog 2\nada\nlog 3')).to.equal(true);
    expect(matchesExpected(expected, 'log 1\nada!\nlog 3')).to.equal(false);
    expect(matchesExpected('a\n...\nb', 'a\nb')).to.equal(true);
    expect(matchesExpected('a\n...\nb', 'a\nx\ny\nb')).to.equal(true);
    expect(matchesExpected('a\n...\nb', 'ab')).to.equal(false);
  });
});
