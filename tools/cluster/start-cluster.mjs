#!/usr/bin/env node
// Dev cluster: one nats-server (JetStream, 127.0.0.1, free port), or a routed cluster of 3 or 5
// with --nats-servers, and N strata nodes (`serve --role auto`) on free ports, until Ctrl-C.
// `npm run cluster` builds first, then runs this.
//
//   node tools/cluster/start-cluster.mjs [--nodes 3] [--nats-servers 1|3|5] [--data-root DIR] [--smoke]
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
  --nats-servers N   nats-servers: 1 (default), or a routed NATS cluster of 3 or 5; every node
                     gets every server's URL, and its streams default to 3 replicas with 3 or more
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
/** nats-server warnings are shown once the NATS side is up (routes refused at start are noise). */
let natsSettled = false;

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
        'nats-servers': { type: 'string', default: '1' },
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
  const natsCount = Number(args['nats-servers']);
  if (![1, 3, 5].includes(natsCount)) {
    console.error(`cluster: --nats-servers must be 1, 3 or 5, got ${args['nats-servers']}`);
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

  // Per nats-server a client, a route and a monitoring port; then one HTTP port per node.
  const ports = await freePorts(natsCount * 3 + nodeCount);
  const natsServers = Array.from({ length: natsCount }, (_unused, index) => ({
    name: natsCount === 1 ? 'nats' : `nats-${index + 1}`,
    port: ports[index * 3],
    clusterPort: ports[index * 3 + 1],
    monitorPort: ports[index * 3 + 2],
  }));
  const natsUrl = natsServers.map((server) => `nats://127.0.0.1:${server.port}`).join(',');
  await Promise.all(
    natsServers.map((server) =>
      startNats(natsBinary, server, natsServers, join(dataRoot, server.name)),
    ),
  );
  if (natsCount > 1) await waitForNatsCluster(natsServers);
  natsSettled = true;

  const nodes = [];
  for (let index = 1; index <= nodeCount; index++) {
    const id = `n${index}`;
    const port = ports[natsCount * 3 + index - 1];
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
  printTable(nodes, statuses, natsServers, dataRoot);

  if (args.smoke) {
    const ok = await smoke(nodes, leader, natsServers);
    await shutdown(ok ? 0 : 1);
    return;
  }
  printTryThis(nodes, leader, natsServers);
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

/** True for a nats-server entry of {@link children}. */
function isNats(entry) {
  return entry.name === 'nats' || entry.name.startsWith('nats-');
}

/** Starts one nats-server; `all` are the servers of its cluster (itself alone: no cluster). */
async function startNats(binary, server, all, storeDirectory) {
  mkdirSync(storeDirectory, { recursive: true });
  const clusterArgs =
    all.length === 1
      ? []
      : [
          '-n',
          server.name,
          '-m',
          String(server.monitorPort),
          '--cluster_name',
          `strata-${CLUSTER}`,
          '--cluster',
          `nats://127.0.0.1:${server.clusterPort}`,
          '--routes',
          all
            .filter((other) => other !== server)
            .map((other) => `nats://127.0.0.1:${other.clusterPort}`)
            .join(','),
        ];
  const entry = launch(server.name, binary, [
    '-js',
    '-a',
    '127.0.0.1',
    '-p',
    String(server.port),
    '-sd',
    storeDirectory,
    ...clusterArgs,
  ]);
  const name = server.name;
  const { child } = entry;
  let ready = false;
  let recent = [];
  // nats-server logs to stderr; after start only warnings and errors are worth showing.
  const watch = (stream) =>
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
      if (!ready) recent = [...recent.slice(-30), line];
      // Without a system account (none is configured here) a clustered server warns that it
      // cannot send advisories whenever assets move: noise.
      else if (
        natsSettled &&
        /\[(WRN|ERR|FTL)\]/.test(line) &&
        !line.includes('system account not setup')
      )
        process.stderr.write(`${name} | ${line}\n`);
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
          `${name} exited (${signal ?? `code ${code}`}) during start:\n${recent.join('\n')}`,
        ),
      ),
    );
  });
  let timer;
  const tooSlow = new Promise((_resolve, rejectSlow) => {
    timer = setTimeout(
      () => rejectSlow(new Error(`${name} not ready within 15 s:\n${recent.join('\n')}`)),
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
        `cluster: ${name} (pid ${child.pid}) exited unexpectedly (${signal ?? `code ${code}`})` +
          (all.length === 1 ? '; the nodes cannot replicate' : ''),
      );
  });
}

/**
 * Waits until every server of a NATS cluster answers `/healthz` with ok and all name the same
 * JetStream meta leader (`/jsz`): before that, creating an R3 stream fails.
 */
async function waitForNatsCluster(servers) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last = 'no answer yet';
  for (;;) {
    try {
      const leaders = new Set();
      for (const server of servers) {
        const monitor = `http://127.0.0.1:${server.monitorPort}`;
        const health = await http('GET', `${monitor}/healthz`, { timeoutMs: 2_000 });
        if (health.status !== 200) throw new Error(`${server.name} /healthz: ${health.body}`);
        const jsz = JSON.parse((await http('GET', `${monitor}/jsz`, { timeoutMs: 2_000 })).body);
        if (!jsz.meta_cluster?.leader) throw new Error(`${server.name}: no JetStream meta leader`);
        leaders.add(jsz.meta_cluster.leader);
      }
      if (leaders.size === 1) return;
      last = `meta leaders differ: ${[...leaders].join(', ')}`;
    } catch (error) {
      last = error.message;
    }
    if (Date.now() > deadline)
      throw new Error(`the NATS cluster was not ready in ${START_TIMEOUT_MS / 1000} s: ${last}`);
    await sleep(150);
  }
}

function startNode(node) {
  const entry = launch(node.id, process.execPath, node.argv);
  node.entry = entry;
  prefixLines(entry.child.stdout, node.id, process.stdout);
  prefixLines(entry.child.stderr, node.id, process.stderr);
  entry.child.once('close', (code, signal) => {
    if (entry.expectedExit) return;
    const how = signal ?? `code ${code}`;
    const alive = children.filter((other) => !isNats(other) && isRunning(other.child));
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
    const nodes = children.filter((entry) => !isNats(entry));
    const nats = children.filter((entry) => isNats(entry));
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
    console.error(`\ncluster: ${signal}: stopping the nodes, then the nats-servers`);
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

function printTable(nodes, statuses, natsServers, dataRoot) {
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
  console.log(`\nstrata dev cluster "${CLUSTER}" is up`);
  for (const server of natsServers) {
    const entry = children.find((child) => child.name === server.name);
    console.log(
      `${server.name.padEnd(6)} nats://127.0.0.1:${server.port} (pid ${entry.child.pid}` +
        (natsServers.length > 1
          ? `, routes ${server.clusterPort}, monitoring http://127.0.0.1:${server.monitorPort})`
          : ')'),
    );
  }
  if (natsServers.length > 1)
    console.log(`streams: ${natsServers.length} JetStream servers, so 3 replicas by default`);
  console.log(`data ${dataRoot}${tempRoot === undefined ? ' (kept)' : ' (removed on exit)'}\n`);
  console.log(`  ${line(rows[0])}`);
  console.log(`  ${widths.map((width) => '-'.repeat(width)).join('  ')}`);
  for (const row of rows.slice(1)) console.log(`  ${line(row)}`);
  console.log('');
}

function printTryThis(nodes, leader, natsServers) {
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
  if (natsServers.length > 1) {
    const first = natsServers[0];
    const pid = children.find((child) => child.name === first.name).child.pid;
    lines.push(
      `  curl -s 'http://127.0.0.1:${first.monitorPort}/jsz?streams=true' | grep leader      # who leads the streams`,
      `  kill -9 ${pid}      # lose ${first.name}: its streams elect new leaders, writes go on`,
    );
  }
  lines.push('', 'Ctrl-C stops everything.', '');
  console.log(lines.join('\n'));
}

/** With a NATS cluster: the log stream has 3 replicas (the default), per `/jsz` of each server. */
async function checkReplicas(natsServers) {
  const stream = `STRATA_${CLUSTER}`;
  for (const server of natsServers) {
    const url = `http://127.0.0.1:${server.monitorPort}/jsz?accounts=true&streams=true&config=true`;
    const jsz = JSON.parse((await http('GET', url)).body);
    const details = (jsz.account_details ?? []).flatMap((account) => account.stream_detail ?? []);
    const replicas = details.find((detail) => detail.name === stream)?.config?.num_replicas;
    if (replicas !== 3)
      throw new Error(`${server.name} reports ${stream} with ${replicas} replicas`);
  }
  console.log(`smoke: ${stream} has 3 replicas on ${natsServers.length} nats-servers`);
}

/**
 * PUT on the leader, a minSeqno GET on each follower (and with a NATS cluster, the stream's
 * replicas); prints OK or what failed.
 */
async function smoke(nodes, leader, natsServers) {
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
    if (natsServers.length > 1) await checkReplicas(natsServers);
    console.log('OK');
    return true;
  } catch (error) {
    console.error(`smoke: FAILED: ${error.message}`);
    return false;
  }
}
