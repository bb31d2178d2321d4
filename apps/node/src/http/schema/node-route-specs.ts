import { ENCODING } from './common-parameters.js';
import { booleanParameter, integerParameter, textParameter } from './parameters.js';
import type { RouteSpec } from './route-spec.js';

const ANY_JSON = { type: 'object' };

/** The event log, backups, the node's own routes and the cluster routes. */
export const NODE_ROUTE_SPECS: readonly RouteSpec[] = [
  {
    method: 'GET',
    path: '/v1/events',
    operationId: 'events',
    summary: 'The event log as NDJSON',
    description:
      'One line per event `{"seqno","epoch","type","key","value","timestamp"}` in seqno order (`type` is ' +
      '`put`, `delete`, `delete-range` or `epoch-start`; a delete has `value` null; a put with a time to live ' +
      'has `expiresAt`, an expiry delete `"expired":true`), `from` and `to` inclusive. Without `follow` the ' +
      'stream ends at `to` or at the last seqno when the request came; with it, it goes on with new writes. ' +
      'An error after the answer started ends the stream with one last line `{"error":{...}}`.',
    tag: 'log',
    query: [
      integerParameter(
        'from',
        'The first seqno (default: the first the log retains; below it 410 HISTORY_TRUNCATED).',
        1,
      ),
      integerParameter('to', 'The last seqno (inclusive).'),
      textParameter('prefix', 'Only events on keys with this prefix.', 0),
      booleanParameter('follow', 'Keep streaming new events.'),
      ENCODING,
    ],
    response: {
      status: 200,
      contentType: 'application/x-ndjson',
      description: 'Events, one JSON object per line.',
    },
    errors: ['HISTORY_TRUNCATED', 'CORRUPTION', 'IO_ERROR'],
    example: {
      command: "curl -s 'http://127.0.0.1:7070/v1/events?from=1&to=2'",
      output:
        '{"seqno":1,"epoch":1,"type":"put","key":"user/1","value":"ada","timestamp":...}\n' +
        '{"seqno":2,"epoch":1,"type":"delete","key":"user/1","value":null,"timestamp":...}',
    },
  },
  {
    method: 'GET',
    path: '/v1/backup',
    operationId: 'backup',
    summary: 'A consistent online backup as a tar stream',
    description:
      'From any node (leader, follower or standalone): a checkpoint of the tree and the retained log, then ' +
      "last `strata-backup.json`, a manifest with the seqno the backup holds and each file's checksums. " +
      '`strata backup` and `strata restore` use it.',
    tag: 'log',
    query: [],
    response: { status: 200, contentType: 'application/x-tar', description: 'The archive.' },
    errors: ['IO_ERROR', 'NO_SPACE'],
    example: {
      command: 'curl -s http://127.0.0.1:7070/v1/backup | tar -t | tail -n 1',
      output: 'strata-backup.json',
    },
  },
  {
    method: 'GET',
    path: '/v1/status',
    operationId: 'status',
    summary: "This node's role, seqnos and health",
    description:
      'Node id, role (`standalone`, `leader`, `follower`), epoch, last and durable seqnos, storage figures, ' +
      'what recovery cut at startup, the log check and the scrub.',
    tag: 'node',
    query: [],
    response: {
      status: 200,
      contentType: 'application/json',
      description: 'The status.',
      schema: ANY_JSON,
    },
    errors: [],
    example: {
      command: 'curl -s http://127.0.0.1:7070/v1/status',
      output:
        '{"nodeId":...,"role":"standalone","status":"open","epoch":1,"lastSeqno":5,"durableSeqno":5,...}',
    },
  },
  {
    method: 'GET',
    path: '/v1/stats',
    operationId: 'stats',
    summary: "This node's running totals, for the dashboard",
    description: 'Seqnos, read requests, log and tree sizes per level, block cache counters.',
    tag: 'node',
    query: [],
    response: {
      status: 200,
      contentType: 'application/json',
      description: 'The totals.',
      schema: ANY_JSON,
    },
    errors: ['IO_ERROR'],
    example: {
      command: 'curl -s http://127.0.0.1:7070/v1/stats',
      output: '{"nodeId":...,"atMs":...,"lastSeqno":5,"durableSeqno":5,...}',
    },
  },
  {
    method: 'GET',
    path: '/healthz',
    operationId: 'health',
    summary: 'Liveness',
    description:
      '200 `{"status":"ok"}` while the store is open; 503 with the store\'s status otherwise.',
    tag: 'node',
    public: true,
    query: [],
    response: {
      status: 200,
      contentType: 'application/json',
      description: 'The node is up.',
      schema: { type: 'object', properties: { status: { type: 'string' } } },
    },
    errors: [],
    example: { command: 'curl -s http://127.0.0.1:7070/healthz', output: '{"status":"ok"}' },
  },
  {
    method: 'GET',
    path: '/metrics',
    operationId: 'metrics',
    summary: 'Prometheus metrics',
    description: 'The Prometheus text format (docs/HTTP-API.md lists the families).',
    tag: 'node',
    query: [],
    response: { status: 200, contentType: 'text/plain', description: 'The metrics.' },
    errors: ['NOT_FOUND'],
    example: {
      command: "curl -s http://127.0.0.1:7070/metrics | grep '^strata_build_info'",
      output: 'strata_build_info{version="0.1.0"} 1',
    },
  },
  {
    method: 'GET',
    path: '/v1/openapi.json',
    operationId: 'openapi',
    summary: 'This API as an OpenAPI 3.1 document',
    description:
      'Generated from the schemas the server validates requests with; docs/API.md is rendered from it.',
    tag: 'node',
    public: true,
    query: [],
    response: {
      status: 200,
      contentType: 'application/json',
      description: 'The document.',
      schema: ANY_JSON,
    },
    errors: [],
    example: {
      command: 'curl -s http://127.0.0.1:7070/v1/openapi.json | head -c 40; echo',
      output: '{"openapi":"3.1.0","info":{"title":"Stra',
    },
  },
  {
    method: 'GET',
    path: '/ui',
    operationId: 'dashboard',
    summary: 'The dashboard page',
    description:
      'Holds no data, so it needs no token; the page asks for the token and sends it with its requests.',
    tag: 'node',
    public: true,
    query: [],
    response: { status: 200, contentType: 'text/html', description: 'The page.' },
    errors: [],
    example: {
      command: "curl -s -o /dev/null -w '%{http_code} %{content_type}\\n' http://127.0.0.1:7070/ui",
      output: '200 text/html; charset=utf-8',
    },
  },
  {
    method: 'GET',
    path: '/ui/:asset',
    operationId: 'dashboardAsset',
    summary: "The dashboard's script, style sheet and icon",
    description: 'Holds no data, so it needs no token.',
    tag: 'node',
    public: true,
    pathParameters: [{ name: 'asset', description: 'A file name, such as `dashboard.js`.' }],
    query: [],
    response: { status: 200, contentType: 'application/octet-stream', description: 'The file.' },
    errors: ['NOT_FOUND'],
    example: {
      command:
        "curl -s -o /dev/null -w '%{http_code} %{content_type}\\n' http://127.0.0.1:7070/ui/dashboard.js",
      output: '200 text/javascript; charset=utf-8',
    },
  },
  {
    method: 'POST',
    path: '/v1/cluster/promote',
    operationId: 'promote',
    summary: 'Make this follower the leader (a planned hand-over)',
    description:
      'On a follower of a cluster: takes the leadership in a new epoch and answers `{"role":"leader","epoch":N}`. ' +
      'A standalone node has no cluster to lead and refuses (the example runs against one).',
    tag: 'cluster',
    query: [],
    response: {
      status: 200,
      contentType: 'application/json',
      description: 'This node leads.',
      schema: {
        type: 'object',
        required: ['role', 'epoch'],
        properties: { role: { const: 'leader' }, epoch: { type: 'integer' } },
      },
    },
    errors: ['TIMEOUT', 'NOT_LEADER'],
    example: {
      command: 'curl -s -X POST http://127.0.0.1:7070/v1/cluster/promote',
      output:
        '{"error":{"code":"INVALID_ARGUMENT","message":"this node is standalone: there is no cluster to lead"}}',
    },
  },
  {
    method: 'GET',
    path: '/v1/internal/checkpoint',
    operationId: 'checkpoint',
    summary: 'A checkpoint archive for a bootstrapping follower',
    description:
      "Node to node: a follower too far behind the stream downloads the leader's checkpoint and continues from " +
      'its seqno. Applications use `/v1/backup` instead. A standalone node refuses.',
    tag: 'cluster',
    internal: true,
    query: [],
    response: { status: 200, contentType: 'application/octet-stream', description: 'The archive.' },
    errors: ['IO_ERROR', 'NO_SPACE'],
    example: {
      command: 'curl -s http://127.0.0.1:7070/v1/internal/checkpoint',
      output:
        '{"error":{"code":"INVALID_ARGUMENT","message":"this node is standalone: it serves no checkpoints to followers"}}',
    },
  },
];
