// The Strata dashboard: polls this node's /v1/status and /v1/stats, follows /v1/events, and
// shows them. Plain browser JavaScript, no dependencies, no build step. Everything the node sends
// is put on the page as text (textContent), never as markup.
/* global document, window, sessionStorage, fetch, AbortController, TextDecoder, URL */

/** Where the token lives: this tab's session storage (gone when the tab closes). */
const TOKEN_KEY = 'strata.token';
/** How often the status and stats are read. */
const POLL_INTERVAL_MS = 1000;
/** Events the tail keeps and shows, newest first. */
const EVENT_LINES = 50;
/** A key or value is cut to this many characters on the page. */
const SHOWN_CHARS = 80;
/** A longer event line is not kept (a large value): the tail shows that it skipped one. */
const MAX_LINE_CHARS = 256 * 1024;
/** Wait before a broken event stream is opened again. */
const RECONNECT_MS = 1000;
/** A peer whose last status is older than this is shown as stale. */
const STALE_PEER_MS = 5000;

const $ = (id) => document.getElementById(id);

let token = sessionStorage.getItem(TOKEN_KEY) ?? undefined;
/** The previous /v1/stats reading, for rates. */
let previousStats;
/** The event tail: the events kept (oldest first), where to resume, and the running stream. */
const tail = { events: [], nextSeqno: undefined, controller: undefined, renderQueued: false };
let pollTimer;

class Unauthenticated extends Error {}

/** GET `path` on this node with the token, if any; rejects with {@link Unauthenticated} on 401. */
async function get(path, signal) {
  const headers = token === undefined ? {} : { authorization: `Bearer ${token}` };
  const response = await fetch(path, { headers, signal, cache: 'no-store' });
  if (response.status === 401) {
    await response.body?.cancel();
    throw new Unauthenticated('a bearer token is required');
  }
  return response;
}

async function getJson(path) {
  const response = await get(path);
  const body = await response.json();
  if (!response.ok) throw new Error(body?.error?.message ?? `${path}: HTTP ${response.status}`);
  return body;
}

// ------------------------------------------------------------------ polling

async function poll() {
  window.clearTimeout(pollTimer);
  try {
    const [status, stats] = await Promise.all([getJson('/v1/status'), getJson('/v1/stats')]);
    showConnection('live', 'live');
    renderSummary(status);
    renderMembers(status);
    renderRates(stats);
    renderLog(stats);
    renderLevels(stats);
    renderScrub(status.scrub);
    if (tail.controller === undefined) startTail(status);
  } catch (error) {
    if (error instanceof Unauthenticated) {
      askForToken(token === undefined ? undefined : 'the token was refused');
      return;
    }
    showConnection('error', `cannot read the node: ${error.message}`);
  }
  pollTimer = window.setTimeout(poll, POLL_INTERVAL_MS);
}

function showConnection(state, text) {
  const badge = $('connection');
  badge.dataset.state = state;
  badge.textContent = text;
}

// ------------------------------------------------------------------ the token

function askForToken(problem) {
  stopTail();
  showConnection('token', 'token needed');
  $('token-form').hidden = false;
  $('panels').hidden = true;
  const error = $('token-error');
  error.hidden = problem === undefined;
  error.textContent = problem ?? '';
  $('token-input').focus();
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const value = $('token-input').value.trim();
  if (value === '') return;
  token = value;
  sessionStorage.setItem(TOKEN_KEY, token);
  $('token-input').value = '';
  $('token-form').hidden = true;
  $('panels').hidden = false;
  void poll();
});

// ------------------------------------------------------------------ panels

function renderSummary(status) {
  const parts = [
    `node ${status.nodeId}`,
    status.cluster === undefined ? 'standalone' : `cluster ${status.cluster}`,
    `version ${status.version}`,
    `up ${formatDuration(status.uptimeMs)}`,
  ];
  if (status.leaderId !== undefined && status.role !== 'leader')
    parts.push(`leader ${status.leaderId}`);
  $('node-summary').textContent = parts.join(' · ');
}

/** This node (from its status) and the peers it hears from, by node id. */
function members(status) {
  const self = {
    nodeId: status.nodeId,
    role: status.role,
    epoch: status.epoch,
    appliedSeqno: status.lastSeqno,
    durableSeqno: status.durableSeqno,
    lagSeqnos: status.lagSeqnos ?? 0,
    url: undefined,
    atMs: undefined,
  };
  const peers = Array.isArray(status.peers) ? status.peers : [];
  return [self, ...peers].sort((a, b) => a.nodeId.localeCompare(b.nodeId));
}

function renderMembers(status) {
  const now = Date.now();
  const rows = members(status).map((member) => {
    const ageMs = member.atMs === undefined ? undefined : Math.max(0, now - member.atMs);
    const row = document.createElement('tr');
    row.dataset.node = member.nodeId;
    row.dataset.role = member.role;
    if (member.atMs === undefined) row.dataset.self = 'true';
    if (ageMs !== undefined && ageMs > STALE_PEER_MS) row.dataset.stale = 'true';
    row.append(
      nodeCell(member),
      cell('role', member.role),
      cell('epoch number', formatInteger(member.epoch)),
      cell('applied number', formatInteger(member.appliedSeqno)),
      cell('durable number', formatInteger(member.durableSeqno)),
      cell('lag number', formatInteger(member.lagSeqnos)),
      cell('age number', ageMs === undefined ? 'this node' : `${formatDuration(ageMs)} ago`),
    );
    return row;
  });
  $('members').tBodies[0].replaceChildren(...rows);
}

/** The node's id, a link to its own dashboard when its address is known. */
function nodeCell(member) {
  const td = cell('node', '');
  const url = safeHttpUrl(member.url);
  if (url === undefined) {
    td.textContent = member.nodeId;
  } else {
    const link = document.createElement('a');
    link.href = new URL('/ui', url).href;
    link.textContent = member.nodeId;
    td.append(link);
  }
  return td;
}

function renderRates(stats) {
  const previous = previousStats;
  previousStats = stats;
  const seconds = previous === undefined ? 0 : (stats.atMs - previous.atMs) / 1000;
  if (seconds > 0) {
    $('write-rate').textContent = formatRate((stats.lastSeqno - previous.lastSeqno) / seconds);
    $('read-rate').textContent =
      stats.reads === null || previous.reads === null
        ? 'n/a (metrics off)'
        : formatRate((stats.reads - previous.reads) / seconds);
  }
  const { hits, misses } = stats.blockCache;
  $('cache-hits').textContent =
    hits + misses === 0 ? '–' : `${((100 * hits) / (hits + misses)).toFixed(1)} %`;
}

function renderLog(stats) {
  const { log, lastSeqno } = stats;
  $('log-size').textContent = formatBytes(log.sizeBytes);
  $('log-segments').textContent = formatInteger(log.segmentCount);
  const retained = Math.max(0, lastSeqno - log.firstRetainedSeqno + 1);
  $('log-retained').textContent =
    retained === 0
      ? 'none yet'
      : `${formatInteger(log.firstRetainedSeqno)} – ${formatInteger(lastSeqno)} (${formatInteger(retained)})`;
  $('log-readable').textContent = formatInteger(log.oldestReadableSeqno);
}

function renderLevels(stats) {
  const rows = stats.tree.levels.map((level) => {
    const row = document.createElement('tr');
    row.dataset.level = String(level.level);
    row.append(
      cell('level', `L${level.level}`),
      cell('segments number', formatInteger(level.segmentCount)),
      cell('size number', formatBytes(level.sizeBytes)),
    );
    return row;
  });
  $('levels').tBodies[0].replaceChildren(...rows);
  $('memtable-size').textContent = formatBytes(stats.tree.memtableSizeBytes);
}

/**
 * The status's `scrub` object, field by field, when the node has one: sizes and durations by
 * their names' units, damage as `kind file @ offset: reason`, shown as an error when not empty.
 */
function renderScrub(scrub) {
  const panel = $('scrub-panel');
  panel.hidden = scrub === undefined || scrub === null || typeof scrub !== 'object';
  if (panel.hidden) return;
  const entries = Object.entries(scrub).map(([name, value]) => {
    const wrapper = document.createElement('div');
    wrapper.dataset.field = name;
    const term = document.createElement('dt');
    // `verifiedBytes` -> `verified`: the unit is in the figure.
    const unitless = name.replace(/(BytesPerSecond|Bytes|Ms)$/, '');
    term.textContent = unitless.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
    const definition = document.createElement('dd');
    definition.textContent = formatField(name, value);
    const bad = Array.isArray(value) ? value.length > 0 : name === 'error' && value !== null;
    if (bad || (name === 'state' && value === 'failed')) definition.className = 'error';
    wrapper.append(term, definition);
    return wrapper;
  });
  $('scrub').replaceChildren(...entries);
}

// ------------------------------------------------------------------ the event tail

/** Follows /v1/events from a little before the node's last seqno (or from where it left off). */
function startTail(status) {
  const firstRetained = Math.max(1, status.firstRetainedSeqno ?? 1);
  const from = Math.max(
    firstRetained,
    tail.nextSeqno ?? Math.max(1, status.lastSeqno - EVENT_LINES + 1),
  );
  const controller = new AbortController();
  tail.controller = controller;
  $('events-state').textContent = '(following)';
  void follow(from, controller).then(
    () => retryTail(controller, '(stream ended; reconnecting)'),
    (error) => {
      if (controller.signal.aborted) return;
      if (error instanceof Unauthenticated) {
        askForToken(undefined);
        return;
      }
      retryTail(controller, `(${error.message}; reconnecting)`);
    },
  );
}

/** Clears the stream so that the next poll opens it again. */
function retryTail(controller, state) {
  if (tail.controller !== controller || controller.signal.aborted) return;
  $('events-state').textContent = state;
  window.setTimeout(() => {
    if (tail.controller === controller) tail.controller = undefined;
  }, RECONNECT_MS);
}

function stopTail() {
  tail.controller?.abort();
  tail.controller = undefined;
}

async function follow(from, controller) {
  const response = await get(`/v1/events?follow=true&from=${from}`, controller.signal);
  if (response.status === 410) {
    // The log was cut below where the tail was: start again from what is retained.
    await response.body?.cancel();
    tail.nextSeqno = undefined;
    throw new Error('history truncated');
  }
  if (!response.ok || response.body === null) {
    const body = await response.json().catch(() => undefined);
    throw new Error(body?.error?.message ?? `HTTP ${response.status}`);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  let skipping = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffered += decoder.decode(value, { stream: true });
    let newline;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (skipping) skipping = false;
      else takeLine(line);
    }
    if (buffered.length > MAX_LINE_CHARS) {
      // A line too long to keep: drop it up to its end, and say so.
      if (!skipping) takeEvent({ seqno: undefined, type: '(an event too large to show)' });
      skipping = true;
      buffered = '';
    }
  }
}

function takeLine(line) {
  if (line.trim() === '') return;
  let event;
  try {
    event = JSON.parse(line);
  } catch {
    return;
  }
  if (event.error !== undefined) throw new Error(event.error.message ?? event.error.code);
  takeEvent(event);
}

function takeEvent(event) {
  if (typeof event.seqno === 'number') tail.nextSeqno = event.seqno + 1;
  else if (tail.nextSeqno !== undefined) tail.nextSeqno += 1;
  tail.events.push(event);
  if (tail.events.length > EVENT_LINES) tail.events.splice(0, tail.events.length - EVENT_LINES);
  if (!tail.renderQueued) {
    tail.renderQueued = true;
    window.setTimeout(renderEvents, 100);
  }
}

function renderEvents() {
  tail.renderQueued = false;
  const rows = tail.events
    .slice()
    .reverse()
    .map((event) => {
      const row = document.createElement('tr');
      row.dataset.type = event.type;
      row.append(
        cell('seqno number', event.seqno === undefined ? '' : formatInteger(event.seqno)),
        cell('time', typeof event.timestamp === 'number' ? formatTime(event.timestamp) : ''),
        cell('type', event.expired === true ? `${event.type} (expired)` : event.type),
        cell('key', shorten(event.key)),
        cell('value', event.value === null ? '' : shorten(event.value)),
      );
      return row;
    });
  $('events').tBodies[0].replaceChildren(...rows);
}

// ------------------------------------------------------------------ formatting

function cell(className, text) {
  const td = document.createElement('td');
  td.className = className;
  td.textContent = text;
  return td;
}

function safeHttpUrl(text) {
  if (typeof text !== 'string') return undefined;
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

function shorten(text) {
  if (typeof text !== 'string') return '';
  return text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS)}…` : text;
}

function formatInteger(value) {
  return typeof value === 'number' ? value.toLocaleString('en-US') : '–';
}

function formatRate(perSecond) {
  return perSecond >= 100 ? Math.round(perSecond).toLocaleString('en-US') : perSecond.toFixed(1);
}

function formatBytes(bytes) {
  if (typeof bytes !== 'number') return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function formatDuration(ms) {
  if (typeof ms !== 'number') return '–';
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

/** HH:MM:SS.mmm in UTC. */
function formatTime(ms) {
  return new Date(ms).toISOString().slice(11, 23);
}

/** A field of unknown shape, formatted by its name's unit (`...Bytes`, `...BytesPerSecond`, `...Ms`). */
function formatField(name, value) {
  if (value === null || value === undefined) return '–';
  if (typeof value === 'number') {
    if (/BytesPerSecond$/.test(name)) return `${formatBytes(value)}/s`;
    if (/Bytes$/.test(name)) return formatBytes(value);
    if (/Ms$/.test(name)) return formatDuration(value);
    return formatInteger(value);
  }
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (Array.isArray(value) && value.length === 0) return 'none';
  const text = Array.isArray(value)
    ? value.map((item) => formatPlace(item)).join('; ')
    : typeof value.code === 'string'
      ? `${value.code}: ${value.message ?? ''}`
      : JSON.stringify(value);
  return text.length > 600 ? `${text.slice(0, 600)}…` : text;
}

/** A damaged place (`kind`, `file`, `offset`, `reason`), or any other item as JSON. */
function formatPlace(item) {
  if (item === null || typeof item !== 'object' || typeof item.file !== 'string') {
    return JSON.stringify(item);
  }
  const where = `${item.kind ?? ''} ${item.file} @ ${item.offset ?? '?'}`.trim();
  return item.reason === undefined ? where : `${where}: ${item.reason}`;
}

void poll();
