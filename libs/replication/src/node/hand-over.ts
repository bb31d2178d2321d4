import { StrataError } from '@strata/core';
import { StringCodec } from 'nats';
import type { Subscription } from 'nats';
import type { NodeState } from './node-state.js';
import {
  DEFAULT_PROMOTE_TIMEOUT_MS,
  HAND_OVER_CATCH_UP_TIMEOUT_MS,
  HAND_OVER_POLL_MS,
} from '../settings.js';
import type { NodeRole } from '../status/node-status.js';
import { delay } from '../timing.js';
import { receivedErrorCode, unknownCodeNote } from '../wire/wire-error.js';
import { stepDown, tick } from './role-loop.js';

/** The leader's answer to a hand-over request, as JSON on the NATS reply. */
export interface HandOverReply {
  readonly ok: boolean;
  readonly error?: { readonly code: string; readonly message: string };
}

const codec = StringCodec();

/**
 * Answers hand-over requests on the cluster's hand-over subject while this node leads; the
 * subscription is the caller's to end.
 */
export function serveHandOver(node: NodeState): Subscription {
  return node.options.nats.subscribe(node.names.handoffSubject, {
    callback: (_error, message) => {
      if (node.role !== 'leader') return;
      void handOff(node, message.data).then(
        (answer) => message.respond(codec.encode(JSON.stringify(answer))),
        () => undefined,
      );
    },
  });
}

/**
 * The leader's side of a hand-over: stops taking writes, waits until the target has applied
 * this node's whole log, writes the lease over to it and steps down.
 */
async function handOff(node: NodeState, request: Uint8Array): Promise<HandOverReply> {
  // After any role change in progress.
  return node
    .enqueue(() => Promise.resolve())
    .then(async (): Promise<HandOverReply> => {
      let target: { nodeId: string; url: string };
      try {
        target = JSON.parse(codec.decode(request)) as { nodeId: string; url: string };
      } catch {
        return { ok: false, error: { code: 'INVALID_ARGUMENT', message: 'bad hand-over request' } };
      }
      if (node.role !== 'leader' || node.leaseRevision === undefined)
        return { ok: false, error: { code: 'NOT_LEADER', message: 'not the leader' } };
      node.handingOff = true;
      const seqno = node.store.lastSeqno;
      const deadline = Date.now() + HAND_OVER_CATCH_UP_TIMEOUT_MS;
      while ((node.peers.get(target.nodeId)?.appliedSeqno ?? 0) < seqno) {
        if (Date.now() > deadline || node.role !== 'leader') {
          node.handingOff = false;
          return {
            ok: false,
            error: { code: 'TIMEOUT', message: `${target.nodeId} did not catch up to ${seqno}` },
          };
        }
        await delay(HAND_OVER_POLL_MS);
      }
      const epoch = node.store.epoch;
      const revision = await node.lease.update(
        { nodeId: target.nodeId, url: target.url, epoch },
        node.leaseRevision,
      );
      if (revision === undefined) {
        node.handingOff = false;
        return { ok: false, error: { code: 'NOT_LEADER', message: 'the lease moved' } };
      }
      await node.enqueue(() => stepDown(node, `handed leadership to ${target.nodeId}`));
      return { ok: true };
    });
}

/**
 * Asks the leader to hand leadership to this node (`strata promote`), then runs lease rounds
 * until this node leads; its new epoch. `TIMEOUT` when no leader answers or this node does not
 * lead in time; the leader's code when it refuses.
 */
export async function requestHandOver(
  node: NodeState,
  timeoutMs = DEFAULT_PROMOTE_TIMEOUT_MS,
): Promise<{ epoch: number }> {
  if (node.role === 'leader') return { epoch: node.store.epoch };
  const reply = await node.options.nats
    .request(
      node.names.handoffSubject,
      codec.encode(JSON.stringify({ nodeId: node.options.nodeId, url: node.options.url })),
      { timeout: timeoutMs },
    )
    .catch((error: unknown) => {
      throw new StrataError('TIMEOUT', `no leader answered the hand-over request`, {
        cause: error,
      });
    });
  const answer = parseHandOverReply(reply.data);
  if (!answer.ok) {
    // The leader's code, checked: a caller branches on it.
    const received = receivedErrorCode(answer.code, 'INTERNAL');
    throw new StrataError(
      received.code,
      `the leader refused the hand-over: ${answer.message ?? 'unknown reason'}${unknownCodeNote(received)}`,
      received.unknownCode === undefined ? {} : { details: { sentCode: received.unknownCode } },
    );
  }
  const deadline = Date.now() + timeoutMs;
  while ((node.role as NodeRole) !== 'leader') {
    if (Date.now() > deadline)
      throw new StrataError('TIMEOUT', 'the lease was handed over but this node did not lead');
    await tick(node);
    await delay(HAND_OVER_POLL_MS);
  }
  return { epoch: node.store.epoch };
}

/** A hand-over reply as received: only `ok` is trusted as is, the rest is checked where used. */
interface ReceivedReply {
  readonly ok: boolean;
  readonly code: unknown;
  readonly message: string | undefined;
}

/** The hand-over reply in `data`; one that is not a reply at all is `INTERNAL`. */
function parseHandOverReply(data: Uint8Array): ReceivedReply {
  let parsed: { ok?: unknown; error?: { code?: unknown; message?: unknown } | null } | null;
  try {
    parsed = JSON.parse(codec.decode(data)) as typeof parsed;
  } catch (error) {
    throw new StrataError('INTERNAL', 'the hand-over reply is not JSON', { cause: error });
  }
  if (typeof parsed?.ok !== 'boolean')
    throw new StrataError('INTERNAL', 'the hand-over reply has no ok field');
  const message = parsed.error?.message;
  return {
    ok: parsed.ok,
    code: parsed.error?.code,
    message: typeof message === 'string' ? message : undefined,
  };
}
