import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { bareImports } from '../src/bare-imports.js';
import { buildPackages } from '../src/build-packages.js';
import type { ConsumerProject, PackedPackage } from '../src/consumer-project.js';
import { createConsumerProject, outsideEnv, packPackage } from '../src/consumer-project.js';
import type { ReadmeExample } from '../src/readme-examples.js';
import { matchesExpected, readmeExamples } from '../src/readme-examples.js';
import type { WorkspacePackage } from '../src/workspace-packages.js';
import { REPO_ROOT, publishablePackages, workspacePackages } from '../src/workspace-packages.js';

const PACKAGES = publishablePackages();

/** A README example written out in the consumer project, in the folder its package's run in. */
interface PlacedExample {
  readonly pkg: WorkspacePackage;
  readonly example: ReadmeExample;
  readonly directory: string;
  /** The program file of a ```js example. */
  readonly file: string | undefined;
}

function examplesOf(pkg: WorkspacePackage): ReadmeExample[] {
  return readmeExamples(readFileSync(join(pkg.directory, 'README.md'), 'utf8'));
}

/** The entry points a manifest names: every string target of `exports`, `types` and `bin`. */
function entryPoints(pkg: WorkspacePackage): string[] {
  const targets: string[] = [];
  const walk = (value: unknown, condition: string): void => {
    if (typeof value === 'string') {
      if (condition !== '@strata/source') targets.push(value);
    } else if (value !== null && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) walk(inner, key);
    }
  };
  walk(pkg.manifest.exports, '');
  walk(pkg.manifest.bin, '');
  const types = (pkg.manifest as { types?: string }).types;
  if (types !== undefined) targets.push(types);
  return [...new Set(targets.map((target) => target.replace(/^\.\//, '')))].sort();
}

function describeRun(result: ReturnType<typeof spawnSync>): string {
  return `exit ${result.status} ${result.signal ?? ''}\n--- stdout\n${String(result.stdout)}\n--- stderr\n${String(result.stderr)}`;
}

describe('publishable packages, packed, installed outside the repository and run with plain node', function () {
  let work: string;
  let packed: PackedPackage[];
  let project: ConsumerProject;
  let placed: PlacedExample[];

  before(function () {
    buildPackages();
    work = mkdtempSync(join(tmpdir(), 'strata-pack-check-'));
    packed = PACKAGES.map((pkg) => packPackage(pkg, join(work, 'tarballs')));
    project = createConsumerProject(packed, join(work, 'project'));
    console.log(
      `      installed ${packed.length} tarballs in ${project.installMs} ms` +
        (project.prebuilt.length ? ` (prebuilt: ${project.prebuilt.join(', ')})` : ''),
    );
    placed = PACKAGES.flatMap((pkg) => {
      const directory = join(project.directory, 'run', basename(pkg.directory));
      mkdirSync(directory, { recursive: true });
      return examplesOf(pkg).map((example) => {
        if (example.kind !== 'program') return { pkg, example, directory, file: undefined };
        const file = join(directory, `example-line-${example.line}.mjs`);
        writeFileSync(file, example.source);
        return { pkg, example, directory, file };
      });
    });
  });

  after(function () {
    // STRATA_PACK_CHECK_KEEP=1 keeps the tarballs and the project, to look into a failure.
    if (work === undefined) return;
    if (process.env.STRATA_PACK_CHECK_KEEP === '1') console.log(`      kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  });

  it('covers the store and every other package not marked private', function () {
    expect(PACKAGES.map((pkg) => pkg.name)).to.include.members([
      '@strata/core',
      '@strata/wal',
      '@strata/engine',
      '@strata/store',
      '@strata/replication',
      '@strata/level',
      '@strata/node',
    ]);
    const skipped = workspacePackages().filter((pkg) => pkg.manifest.private === true);
    console.log(`      not packed (private): ${skipped.map((pkg) => pkg.name).join(', ')}`);
  });

  it('installs without a warning and builds no native addon from source', function () {
    expect(project.installOutput).not.to.match(/npm warn/i);
    // A build from source leaves node-gyp's Makefile; an unpacked prebuilt binary does not.
    for (const name of project.prebuilt) {
      const makefile = join(project.directory, 'node_modules', name, 'build', 'Makefile');
      expect(existsSync(makefile), `${name} was built from source`).to.equal(false);
    }
  });

  it('packs the built entry points, declarations and README, and no sources or tests', function () {
    for (const { pkg, files } of packed) {
      const label = `${pkg.name}: ${files.join(', ')}`;
      expect(files, label).to.include.members([
        'package.json',
        'README.md',
        'dist/index.js',
        'dist/index.d.ts',
        ...entryPoints(pkg),
      ]);
      const unwanted = files.filter(
        (file) =>
          /^(src|test)\//.test(file) ||
          file.startsWith('dist/types/') ||
          file.endsWith('.tsbuildinfo'),
      );
      expect(unwanted, pkg.name).to.deep.equal([]);
    }
  });

  it("imports only the packages each package's manifest declares", function () {
    for (const { pkg } of packed) {
      const installed = join(project.directory, 'node_modules', pkg.name, 'dist');
      const declared = Object.keys(pkg.manifest.dependencies ?? {});
      const undeclared = [...bareImports(installed)].filter(
        (name) => name !== pkg.name && !declared.includes(name),
      );
      expect(undeclared, `${pkg.name} imports packages it does not depend on`).to.deep.equal([]);
    }
  });

  for (const pkg of PACKAGES) {
    it(`${pkg.name}: the README's examples run as shown`, function () {
      const examples = placed.filter((entry) => entry.pkg === pkg);
      expect(examples, `${pkg.folder}/README.md has no \`\`\`js or \`\`\`console example`).not.to.be
        .empty;
      for (const { example, directory, file } of examples) {
        const where = `${pkg.folder}/README.md line ${example.line}`;
        const result =
          file !== undefined
            ? spawnSync(process.execPath, [file], {
                cwd: directory,
                env: outsideEnv(),
                encoding: 'utf8',
                timeout: 120_000,
              })
            : spawnSync('bash', ['-c', (example as { command: string }).command], {
                cwd: directory,
                env: outsideEnv(),
                encoding: 'utf8',
                timeout: 120_000,
              });
        expect(result.status, `${where}\n${describeRun(result)}`).to.equal(0);
        if (example.expected !== undefined) {
          const shown = matchesExpected(example.expected, result.stdout);
          expect(shown, `${where}: expected\n${example.expected}\n${describeRun(result)}`).to.equal(
            true,
          );
        }
      }
    });
  }

  it('type-checks the README programs against the packed declarations (skipLibCheck off)', function () {
    const files = placed.flatMap((entry) => (entry.file === undefined ? [] : [entry.file]));
    const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = spawnSync(
      process.execPath,
      [
        tsc,
        '--noEmit',
        '--allowJs',
        '--checkJs',
        '--module',
        'nodenext',
        '--moduleResolution',
        'nodenext',
        '--target',
        'es2022',
        '--types',
        'node',
        '--typeRoots',
        join(REPO_ROOT, 'node_modules', '@types'),
        ...files,
      ],
      { cwd: project.directory, env: outsideEnv(), encoding: 'utf8' },
    );
    expect(result.status, describeRun(result)).to.equal(0);
  });

  it("the repository's `npx strata serve` runs the built CLI", async function () {
    this.timeout(120_000);
    const data = join(work, 'serve-data');
    const child = spawn('npx', ['strata', 'serve', '--data', data, '--listen', '127.0.0.1:0'], {
      cwd: REPO_ROOT,
      env: outsideEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    // npx runs the bin through a shell, which does not pass a signal on: the node's own pid (in
    // its log lines) is the one to stop.
    const started = new Promise<{ url: string; pid: number }>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
        const pid = /"pid":(\d+)/.exec(output)?.[1];
        if (url !== undefined && pid !== undefined) resolve({ url, pid: Number(pid) });
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code) => reject(new Error(`strata exited (${code}):\n${output}`)));
    });
    const closed = new Promise<number | null>((resolve) => child.once('close', resolve));
    const { url, pid } = await started;
    try {
      const status = (await (await fetch(`${url}/v1/status`)).json()) as { role: string };
      expect(status.role).to.equal('standalone');
    } finally {
      process.kill(pid, 'SIGTERM');
    }
    // serve exits 0 only once the node closed cleanly.
    expect(await closed, output).to.equal(0);
  });
});
