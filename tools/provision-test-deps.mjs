#!/usr/bin/env node
// Makes sure the programs the test suite runs for real are on this machine, before any test starts:
// the tests use a real nats-server (replication, cluster), never a mock, Prometheus's own
// promtool to check the /metrics output (its lint rules), and Debian's chromium for the dashboard
// test (optional: that test is skipped without it). `npm test` runs this first
// and `.ci/run` calls it, so a fresh machine needs nothing done by hand.
//
// A missing program is installed from Debian when we are root and apt-get exists; otherwise this
// stops with one line naming the command to run (a non-root developer decides about sudo).
// Each program is found the way the tests find it: $ENV override, the Debian path, then PATH.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** What the tests need: the binary, where tests look for it, and the Debian package that has it. */
const REQUIREMENTS = [
  {
    name: 'nats-server',
    envVariable: 'NATS_SERVER',
    debianPath: '/usr/sbin/nats-server',
    debianPackage: 'nats-server',
    versionArgs: ['--version'],
  },
  {
    name: 'promtool',
    envVariable: 'PROMTOOL',
    debianPath: '/usr/bin/promtool',
    debianPackage: 'prometheus',
    versionArgs: ['--version'],
  },
  {
    // Only the dashboard test drives it (headless, through playwright-core); without it that test
    // is skipped and says why, so a machine that cannot install it still runs the rest.
    name: 'chromium',
    envVariable: 'CHROMIUM',
    debianPath: '/usr/bin/chromium',
    debianPackage: 'chromium',
    versionArgs: ['--version'],
    optional: true,
  },
];

function onPath(command) {
  for (const directory of (process.env.PATH ?? '').split(delimiter)) {
    if (directory && existsSync(join(directory, command))) return join(directory, command);
  }
  return undefined;
}

function locate(requirement) {
  const fromEnv = process.env[requirement.envVariable];
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  if (existsSync(requirement.debianPath)) return requirement.debianPath;
  return onPath(requirement.name);
}

const missing = REQUIREMENTS.filter((requirement) => locate(requirement) === undefined);
if (missing.length > 0) {
  const packages = missing.map((requirement) => requirement.debianPackage);
  const command = `apt-get update && apt-get install -y ${packages.join(' ')}`;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || onPath('apt-get') === undefined) {
    const required = missing.some((requirement) => !requirement.optional);
    (required ? console.error : console.log)(
      `provision: the tests need ${missing.map((r) => r.name).join(', ')}; install with: sudo ${command}`,
    );
    if (required) process.exit(1);
  } else {
    console.log(`provision: installing ${packages.join(' ')} from Debian`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const run = (args) => spawnSync('apt-get', args, { stdio: 'inherit', env }).status;
    const update = run(['update', '-qq']);
    // Required programs first, together; an optional one that fails to install is reported
    // below and does not stop the others.
    for (const group of [
      missing.filter((requirement) => !requirement.optional),
      ...missing.filter((requirement) => requirement.optional).map((requirement) => [requirement]),
    ]) {
      if (group.length === 0) continue;
      const status =
        update === 0 ? run(['install', '-y', '-qq', ...group.map((r) => r.debianPackage)]) : update;
      if (status !== 0 && group.some((requirement) => !requirement.optional)) {
        console.error(
          `provision: apt-get could not install ${group.map((r) => r.debianPackage).join(' ')} (exit ${status})`,
        );
        process.exit(1);
      }
    }
  }
}

for (const requirement of REQUIREMENTS) {
  const path = locate(requirement);
  if (path === undefined && requirement.optional) {
    console.log(
      `provision: ${requirement.name} is missing; the tests that need it will be skipped`,
    );
    continue;
  }
  if (path === undefined) {
    console.error(`provision: ${requirement.name} is still missing after the install`);
    process.exit(1);
  }
  const version = execFileSync(path, requirement.versionArgs, { encoding: 'utf8' }).trim();
  console.log(`provision: ${requirement.name} ${version} at ${path}`);
}
