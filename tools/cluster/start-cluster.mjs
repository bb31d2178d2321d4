#!/usr/bin/env node
// Dev cluster: one nats-server (JetStream, 127.0.0.1, free port) and N strata nodes (`serve
// --role auto`) on free ports, until Ctrl-C. `npm run cluster` builds first, then runs this.
//
//   node tools/cluster/start-cluster.mjs [--nodes 3] [--data-root DIR] [--smoke]
//
// Children are started in their own process groups, so a Ctrl-C in the terminal reaches only this
// launcher, which stops the nodes (SIGTERM, SIGKILL after 5 s) and then nats-server, by PID.
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { clearTimeout, setTimeout } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const STRATA_JS = join(ROOT, 'apps/node/dist/strata.js');
const CLUSTER = 'dev';
const STOP_GRACE_MS = 5_000;
const START_TIMEOUT_MS = 30_000;

const USAGE = `usage: node tools/cluster/start-cluster.mjs [options]

Starts nats-server (JetStream) and a cluster of strata nodes on 127.0.0.1 until Ctrl-C.

  --nodes N          number of nodes (default 3)
  --data-root DIR    keep node data and the JetStream store in DIR across runs
                     (default: a temp dir, removed on exit)
  --smoke            start, PUT on the leader, read it on every follower, stop; exit 0 or 1
  -h, --help         this text

Environment: NATS_SERVER=<path of nats-server> (default /usr/sbin/nats-server, then PATH).
`;

/** Every child process this launcher started: { name, child, expectedExit }. */
const children = [];
let tempRoot;
let stopping;

main().catch(async (error) => {
  console.error(`cluster: ${error instanceof Error ? error.message : String(error)}`);
  await shutdown(1);
});

async function main() {
  let args;
  try {
    args = parseArgs({
      options: {
        nodes: { type: 'string', default: '3' },
        'data-root': { type: 'string' },
        smoke: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    console.error(`cluster: ${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return;
  }
  const nodeCount = Number(args.nodes);
  if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > 9) {
    console.error(`cluster: --nodes must be an integer from 1 to 9, got ${args.nodes}`);
    process.exit(2);
  }
  if (!existsSync(STRATA_JS)) {
    console.error(`cluster: ${relative(ROOT, STRATA_JS)} is missing: run \`npm run build\` first`);
    process.exit(1);
  }
  const natsBinary = findNatsServer();
  if (natsBinary === undefined) {
    console.error(
      (process.env.NATS_SERVER
        ? `cluster: NATS_SERVER=${process.env.NATS_SERVER} is not an executable file.\n`
        : 'cluster: nats-server not found (looked at $NATS_SERVER, /usr/sbin/nats-server, PATH).\n') +
        '         Install it with `apt-get install nats-server`, or set NATS_SERVER=/path/to/nats-server.',
    );
    process.exit(1);
  }

  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  // Last resort (a crash of this launcher): no child outlives it.
  process.on('exit', () => {
    for (const { child } of children) if (isRunning(child)) child.kill('SIGKILL');
  });

  let dataRoot;
  if (args['data-root'] !== undefined) {
    dataRoot = resolve(args['data-root']);
    mkdirSync(dataRoot, { recursive: true });
  } else {
    tempRoot = mkdtempSync(join(tmpdir(), 'strata-cluster-'));
    dataRoot = tempRoot;
  }

  const ports = await freePorts(nodeCount + 1);
  const natsPort = ports[0];
  const natsUrl = `nats://127.0.0.1:${natsPort}`;
  await startNats(natsBinary, natsPort, join(dataRoot, 'nats'));

  const nodes = [];
  for (let index = 1; index <= nodeCount; index++) {
    const id = `n${index}`;
    const port = ports[index];
    const argv = [
      STRATA_JS,
      'serve',
      '--data',
      join(dataRoot, id),
      '--listen',
      `127.0.0.1:${port}`,
      '--node-id',
      id,
      '--nats',
      natsUrl,
      '--cluster',
      CLUSTER,
      '--role',
      'auto',
      '--cluster-size',
      String(nodeCount),
      '--log-level',
      'warn',
    ];
    nodes.push({ id, url: `http://127.0.0.1:${port}`, argv, entry: undefined });
  }
  // The first node creates the stream and the lease bucket; the rest join once it answers.
  startNode(nodes[0]);
  await waitForStatus(nodes[0]);
  for (const node of nodes.slice(1)) startNode(node);
  await Promise.all(nodes.slice(1).map((node) => waitForStatus(node)));
  const leader = await waitForLeader(nodes);

  const statuses = await Promise.all(nodes.map((node) => getStatus(node.url)));
  printTable(nodes, statuses, natsUrl, natsPort, dataRoot);

  if (args.smoke) {
    const ok = await smoke(nodes, leader);
    await shutdown(ok ? 0 : 1);
    return;
  }
  printTryThis(nodes, leader);
  // Only the unexpected exit of a node is reported (see startNode); wait for a signal.
}

// ------------------------------------------------------------------ processes

function findNatsServer() {
  const fromEnvironment = process.env.NATS_SERVER;
  if (fromEnvironment) return isExecutable(fromEnvironment) ? fromEnvironment : undefined;
  if (isExecutable('/usr/sbin/nats-server')) return '/usr/sbin/nats-server';
  for (const directory of (process.env.PATH ?? '').split(delimiter)) {
    if (directory && isExecutable(join(directory, 'nats-server')))
      return join(directory, 'nats-server');
  }
  return undefined;
}

function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function isRunning(child) {
  return child.exitCode === null && child.signalCode === null;
}

/** Spawns a child in its own process group and records it; returns its entry. */
function launch(name, command, argv) {
  const child = spawn(command, argv, {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const entry = { name, child, expectedExit: false };
  entry.exited = new Promise((resolveExit) => child.once('close', resolveExit));
  child.once('error', (error) => console.error(`cluster: cannot start ${name}: ${error.message}`));
  children.push(entry);
  return entry;
}

/** Prints each line of `stream` prefixed with `name` (when `keep(line)`). */
function prefixLines(stream, name, out, keep = () => true) {
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  lines.on('line', (line) => {
    if (keep(line)) out.write(`${name.padEnd(4)} | ${line}\n`);
  });
}

async function startNats(binary, port, storeDirectory) {
  mkdirSync(storeDirectory, { recursive: true });
  const entry = launch('nats', binary, [
    '-js',
    '-a',
    '127.0.0.1',
    '-p',
    String(port),
    '-sd',
    storeDirectory,
  ]);
  const { child } = entry;
  let ready = false;
  let recent = [];
  // nats-server logs to stderr; after start only warnings and errors are worth showing.
  const watch = (stream) =>
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
      if (!ready) recent = [...recent.slice(-30), line];
      else if (/\[(WRN|ERR|FTL)\]/.test(line)) process.stderr.write(`nats | ${line}\n`);
    });
  watch(child.stdout);
  watch(child.stderr);
  const readyLine = new Promise((resolveReady, rejectReady) => {
    const check = (chunk) => {
      if (chunk.toString().includes('Server is ready')) resolveReady();
    };
    child.stderr.on('data', check);
    child.stdout.on('data', check);
    child.once('close', (code, signal) =>
      rejectReady(
        new Error(
          `nats-server exited (${signal ?? `code ${code}`}) during start:\n${recent.join('\n')}`,
        ),
      ),
    );
  });
  let timer;
  const tooSlow = new Promise((_resolve, rejectSlow) => {
    timer = setTimeout(
      () => rejectSlow(new Error(`nats-server not ready within 15 s:\n${recent.join('\n')}`)),
      15_000,
    );
  });
  try {
    await Promise.race([readyLine, tooSlow]);
  } finally {
    clearTimeout(timer);
  }
  ready = true;
  child.once('close', (code, signal) => {
    if (!entry.expectedExit)
      console.error(
        `cluster: nats-server (pid ${child.pid}) exited unexpectedly (${signal ?? `code ${code}`}); the nodes cannot replicate`,
      );
  });
}

function startNode(node) {
  const entry = launch(node.id, process.execPath, node.argv);
  node.entry = entry;
  prefixLines(entry.child.stdout, node.id, process.stdout);
  prefixLines(entry.child.stderr, node.id, process.stderr);
  entry.child.once('close', (code, signal) => {
    if (entry.expectedExit) return;
    const how = signal ?? `code ${code}`;
    const alive = children.filter((other) => other.name !== 'nats' && isRunning(other.child));
    console.error(
      `\ncluster: ${node.id} (pid ${entry.child.pid}, ${node.url}) exited (${how}), not stopped by this launcher; ` +
        `still running: ${alive.map((other) => other.name).join(', ') || 'no node'}\n` +
        `cluster: to restart it: node ${[relative(ROOT, STRATA_JS), ...node.argv.slice(1)].join(' ')}\n`,
    );
  });
}

/** Stops every child: nodes first (SIGTERM, SIGKILL after 5 s), then nats-server; exits. */
function shutdown(code) {
  stopping ??= (async () => {
    const nodes = children.filter((entry) => entry.name !== 'nats');
    const nats = children.filter((entry) => entry.name === 'nats');
    await Promise.all(nodes.map((entry) => stopChild(entry)));
    await Promise.all(nats.map((entry) => stopChild(entry)));
    if (tempRoot !== undefined) {
      try {
        rmSync(tempRoot, { recursive: true, force: true });
      } catch (error) {
        console.error(`cluster: could not remove ${tempRoot}: ${error.message}`);
      }
    }
    process.exit(code);
  })();
  return stopping;
}

async function stopChild(entry) {
  entry.expectedExit = true;
  if (!isRunning(entry.child)) return;
  entry.child.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (isRunning(entry.child)) {
      console.error(`cluster: ${entry.name} (pid ${entry.child.pid}) did not stop in 5 s: SIGKILL`);
      entry.child.kill('SIGKILL');
    }
  }, STOP_GRACE_MS);
  await entry.exited;
  clearTimeout(timer);
}

let signals = 0;
function onSignal(signal) {
  signals++;
  if (signals === 1) {
    console.error(`\ncluster: ${signal}: stopping the nodes, then nats-server`);
    void shutdown(0);
    return;
  }
  console.error(`cluster: ${signal} again: killing every child now`);
  for (const { child } of children) if (isRunning(child)) child.kill('SIGKILL');
}

// ------------------------------------------------------------------ ports and HTTP

/** `count` distinct free TCP ports on 127.0.0.1 (all held open until each is known). */
async function freePorts(count) {
  const servers = [];
  try {
    for (let index = 0; index < count; index++) {
      const server = createServer();
      await new Promise((resolveListen, rejectListen) => {
        server.once('error', rejectListen);
        server.listen(0, '127.0.0.1', resolveListen);
      });
      servers.push(server);
    }
    return servers.map((server) => server.address().port);
  } finally {
    await Promise.all(
      servers.map((server) => new Promise((resolveClose) => server.close(resolveClose))),
    );
  }
}

/** One HTTP request; resolves { status, body } (body as text), rejects on network errors. */
function http(method, url, { body, timeoutMs = 10_000 } = {}) {
  return new Promise((resolveRequest, rejectRequest) => {
    const req = request(url, { method, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () =>
        resolveRequest({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
      );
      res.on('error', rejectRequest);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', rejectRequest);
    req.end(body);
  });
}

async function getStatus(url) {
  const answer = await http('GET', `${url}/v1/status`, { timeoutMs: 2_000 });
  if (answer.status !== 200) throw new Error(`GET ${url}/v1/status: HTTP ${answer.status}`);
  return JSON.parse(answer.body);
}

async function waitForStatus(node) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (!isRunning(node.entry.child)) throw new Error(`${node.id} exited during start`);
    try {
      return await getStatus(node.url);
    } catch (error) {
      if (Date.now() > deadline)
        throw new Error(`${node.id} did not answer ${node.url}/v1/status: ${error.message}`);
    }
    await sleep(150);
  }
}

/** Waits until exactly one node reports role leader; resolves that node. */
async function waitForLeader(nodes) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const statuses = await Promise.all(nodes.map((node) => getStatus(node.url).catch(() => null)));
    const leaders = nodes.filter((_node, index) => statuses[index]?.role === 'leader');
    if (leaders.length === 1) return leaders[0];
    if (Date.now() > deadline)
      throw new Error(`no single leader after ${START_TIMEOUT_MS / 1000} s`);
    await sleep(200);
  }
}

// ------------------------------------------------------------------ output and smoke test

function printTable(nodes, statuses, natsUrl, natsPort, dataRoot) {
  const rows = [
    ['node', 'url', 'role', 'epoch', 'pid'],
    ...nodes.map((node, index) => [
      node.id,
      node.url,
      String(statuses[index].role),
      String(statuses[index].epoch),
      String(node.entry.child.pid),
    ]),
  ];
  const widths = rows[0].map((_cell, column) => Math.max(...rows.map((row) => row[column].length)));
  const line = (row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column]))
      .join('  ')
      .trimEnd();
  const nats = children.find((entry) => entry.name === 'nats');
  console.log(`\nstrata dev cluster "${CLUSTER}" is up`);
  console.log(`nats-server ${natsUrl} (pid ${nats.child.pid}, port ${natsPort})`);
  console.log(`data ${dataRoot}${tempRoot === undefined ? ' (kept)' : ' (removed on exit)'}\n`);
  console.log(`  ${line(rows[0])}`);
  console.log(`  ${widths.map((width) => '-'.repeat(width)).join('  ')}`);
  for (const row of rows.slice(1)) console.log(`  ${line(row)}`);
  console.log('');
}

function printTryThis(nodes, leader) {
  const follower = nodes.find((node) => node !== leader);
  const cli = `node ${relative(process.cwd(), STRATA_JS) || STRATA_JS}`;
  const lines = [
    'try this:',
    `  curl -X PUT --data-binary 'hello' ${leader.url}/v1/kv/greeting      # -> {"seqno":N,"epoch":E}`,
  ];
  if (follower) {
    lines.push(
      `  curl '${follower.url}/v1/kv/greeting?minSeqno=N'      # waits until ${follower.id} has applied N`,
      `  kill ${leader.entry.child.pid}      # stop the leader (${leader.id}); a follower takes the lease in ~3 s`,
      `  while sleep 1; do curl -s ${follower.url}/v1/status; echo; done      # role, epoch, leaderUrl`,
      `  ${cli} promote --url ${follower.url}      # hand leadership to ${follower.id}`,
    );
  }
  lines.push('', 'Ctrl-C stops everything.', '');
  console.log(lines.join('\n'));
}

/** PUT on the leader, a minSeqno GET on each follower; prints OK or what failed. */
async function smoke(nodes, leader) {
  const key = `smoke-${Date.now()}`;
  const value = `hello from the smoke test ${process.pid}`;
  try {
    const put = await http('PUT', `${leader.url}/v1/kv/${key}`, { body: value });
    if (put.status !== 200) throw new Error(`PUT on ${leader.id}: HTTP ${put.status} ${put.body}`);
    const { seqno, epoch } = JSON.parse(put.body);
    if (!Number.isInteger(seqno)) throw new Error(`PUT on ${leader.id}: no seqno in ${put.body}`);
    console.log(`smoke: PUT ${key} on ${leader.id} -> seqno ${seqno}, epoch ${epoch}`);
    for (const node of nodes.filter((other) => other !== leader)) {
      const get = await http('GET', `${node.url}/v1/kv/${key}?minSeqno=${seqno}&timeoutMs=5000`);
      if (get.status !== 200) throw new Error(`GET on ${node.id}: HTTP ${get.status} ${get.body}`);
      if (get.body !== value) throw new Error(`GET on ${node.id}: got ${JSON.stringify(get.body)}`);
      console.log(`smoke: GET ${key}?minSeqno=${seqno} on ${node.id} -> the value`);
    }
    console.log('OK');
    return true;
  } catch (error) {
    console.error(`smoke: FAILED: ${error.message}`);
    return false;
  }
}
