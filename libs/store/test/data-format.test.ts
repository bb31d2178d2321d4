import { expect } from 'chai';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTempDirectory, rejectionOf } from '@strata/testing';
import { DATA_FORMAT_VERSION, SUPPORTED_DATA_FORMAT_VERSIONS, Store } from '../src/index.js';

/*
 * The data directory's format version (its FORMAT file). Version 2 may hold the empty key; a
 * version-1 directory cannot, so it is opened and its marker rewritten to 2; anything else is
 * refused before anything is touched.
 */

describe('Store: data directory format version', () => {
  let dir: { path: string; remove(): Promise<void> };
  const formatFile = (): string => join(dir.path, 'FORMAT');

  beforeEach(async () => {
    dir = await createTempDirectory('store-format-');
  });
  afterEach(async () => {
    await dir.remove();
  });

  it('a new directory is written as version 2', async () => {
    expect(DATA_FORMAT_VERSION).to.equal(2);
    expect(SUPPORTED_DATA_FORMAT_VERSIONS).to.deep.equal([1, 2]);
    const store = await Store.open(dir.path);
    await store.close();
    expect(await readFile(formatFile(), 'utf8')).to.equal('strata-data 2\n');
  });

  it('a version-1 directory opens with its data and is rewritten to version 2 (no temporary file left), then holds an empty key', async () => {
    const store = await Store.open(dir.path);
    await store.put('a', 'A');
    await store.close({ flushMemtable: false });
    await writeFile(formatFile(), 'strata-data 1\n');

    const upgraded = await Store.open(dir.path);
    expect(await readFile(formatFile(), 'utf8')).to.equal('strata-data 2\n');
    expect((await readdir(dir.path)).filter((name) => name.includes('tmp'))).to.deep.equal([]);
    expect((await upgraded.get('a'))?.toString()).to.equal('A');
    await upgraded.put('', 'empty');
    await upgraded.close();

    const again = await Store.open(dir.path);
    expect((await again.get(''))?.toString()).to.equal('empty');
    await again.close();
    expect(await readFile(formatFile(), 'utf8')).to.equal('strata-data 2\n');
  });

  for (const [what, marker, version] of [
    ['version 0', 'strata-data 0\n', 0],
    ['version 3', 'strata-data 3\n', 3],
    [
      'a version number too large',
      'strata-data 99999999999999999999\n',
      'strata-data 99999999999999999999',
    ],
    ['garbage after the name', 'strata-data two\n', 'strata-data two'],
    ['garbage', '\u0000\u0001garbage', '\u0000\u0001garbage'],
    ['an empty file', '', ''],
  ] as const) {
    it(`refuses ${what} with UNSUPPORTED_FORMAT naming the file, the version found and the versions supported, and leaves it as it was`, async () => {
      const store = await Store.open(dir.path);
      await store.put('a', 'A');
      await store.close();
      await writeFile(formatFile(), marker);
      const error = await rejectionOf(Store.open(dir.path));
      expect(error.code).to.equal('UNSUPPORTED_FORMAT');
      expect(error.details).to.deep.include({
        file: formatFile(),
        version,
        supportedVersions: [1, 2],
      });
      expect(error.message).to.include(formatFile());
      expect(error.message).to.include('versions 1 and 2');
      if (typeof version === 'number')
        expect(error.message).to.include(`format version ${version}`);
      expect(await readFile(formatFile(), 'utf8')).to.equal(marker);
      // The lock was released: once the marker is right again, the directory opens.
      await writeFile(formatFile(), 'strata-data 2\n');
      const reopened = await Store.open(dir.path);
      expect((await reopened.get('a'))?.toString()).to.equal('A');
      await reopened.close();
    });
  }
});
