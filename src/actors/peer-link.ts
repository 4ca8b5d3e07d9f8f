// The outbound link from this node to one peer address: dial, TLS, hello, then heartbeats that move it
// alive <-> suspect -> down, and reconnects with exponential backoff and jitter. Every node dials every
// member, so each pair of nodes has two links, one each way; a link carries its owner's requests only.
import { assign, fromCallback, fromPromise, sendParent, setup } from "xstate";
import type { Connection } from "../protocol/connection.ts";
import type { Hello, Message } from "../protocol/messages.ts";

export type LinkState = "connecting" | "alive" | "suspect" | "down";

export interface LinkSession {
  conn: Connection;
  peer: Hello;
}

export interface LinkTiming {
  heartbeatMs: number;
  /** No pong for this long: suspect. */
  suspectAfterMs: number;
  /** No pong for this long: down, the connection is dropped and redialled. */
  failureTimeoutMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

export interface PeerLinkInput {
  addr: string;
  selfNodeId: string;
  timing: LinkTiming;
}

/** What a link tells its parent (the node actor) whenever its state or RTT changes. */
export interface LinkReport {
  type: "link.state";
  addr: string;
  nodeId: string | null;
  listenAddr: string | null;
  state: LinkState | "self";
  rttMs: number | null;
  reason: string | null;
}

export type PeerLinkEvent =
  | { type: "link.pong"; rttMs: number }
  | { type: "link.closed"; reason: string | null }
  | { type: "link.send"; message: Message }
  /** The peer just connected to us: it is back, so dial now instead of waiting out the backoff. */
  | { type: "link.retry" };

interface PeerLinkContext extends PeerLinkInput {
  session: LinkSession | null;
  /** The last hello heard at this address: who the peer is, kept while it is down. */
  peer: Hello | null;
  attempt: number;
  rttMs: number | null;
  reason: string | null;
}

/**
 * What a node tells each peer in every ping besides the time: whether it takes no new copies (`full`),
 * and whether that is because it is read-only.
 */
export type PingNews = { full?: boolean; readOnly?: boolean };

/**
 * The heartbeat of a connected link: a ping every `heartbeatMs` (carrying `news()`), a `link.pong`
 * with the round trip for each answer, `link.closed` when the connection goes.
 */
export function heartbeat(news: () => PingNews) {
  return fromCallback<PeerLinkEvent, { session: LinkSession; timing: LinkTiming }>(({ input, sendBack }) => {
    const { conn } = input.session;
    let inFlight = false;
    const ping = async () => {
      if (inFlight) return;
      inFlight = true;
      const started = performance.now();
      try {
        await conn.request({ t: "ping", at: Date.now(), ...news() }, input.timing.failureTimeoutMs);
        sendBack({ type: "link.pong", rttMs: Math.round((performance.now() - started) * 100) / 100 });
      } catch {
        // A lost ping shows up as silence: the state timers do the rest.
      } finally {
        inFlight = false;
      }
    };
    const onClose = (reason: { message: string } | undefined) =>
      sendBack({ type: "link.closed", reason: reason?.message ?? null });
    conn.on("close", onClose);
    if (conn.isClosed) onClose(undefined);
    void ping();
    const timer = setInterval(ping, input.timing.heartbeatMs);
    return () => {
      clearInterval(timer);
      conn.off("close", onClose);
    };
  });
}

export const peerLinkMachine = setup({
  types: {
    context: {} as PeerLinkContext,
    events: {} as PeerLinkEvent,
    input: {} as PeerLinkInput,
  },
  actors: {
    // Provided by the node: dials `addr` over TLS and exchanges hellos.
    connect: fromPromise<LinkSession, { addr: string }>(async () => {
      throw new Error("peer link: connect is not provided");
    }),
    // The node provides its own (`heartbeat(...)`) to tell peers about itself in every ping.
    heartbeat: heartbeat(() => ({})),
  },
  delays: {
    suspectAfter: ({ context }) => context.timing.suspectAfterMs,
    downAfterSuspect: ({ context }) =>
      Math.max(0, context.timing.failureTimeoutMs - context.timing.suspectAfterMs),
    backoff: ({ context }) => backoffDelay(context.attempt, context.timing),
  },
  actions: {
    report: sendParent(
      ({ context }, params: { state: LinkReport["state"] }): LinkReport => ({
        type: "link.state",
        addr: context.addr,
        nodeId: context.peer?.nodeId ?? null,
        listenAddr: context.peer?.listenAddr ?? null,
        state: params.state,
        rttMs: context.rttMs,
        reason: context.reason,
      }),
    ),
    dropSession: assign(({ context }) => {
      context.session?.conn.close(undefined);
      return { session: null, rttMs: null };
    }),
    send: ({ context, event }) => {
      if (event.type !== "link.send") return;
      context.session?.conn.send(event.message).catch(() => undefined);
    },
  },
}).createMachine({
  id: "peerLink",
  context: ({ input }) => ({ ...input, session: null, peer: null, attempt: 0, rttMs: null, reason: null }),
  initial: "connecting",
  states: {
    connecting: {
      invoke: {
        src: "connect",
        input: ({ context }) => ({ addr: context.addr }),
        onDone: [
          {
            guard: ({ context, event }) => event.output.peer.nodeId === context.selfNodeId,
            target: "self",
            actions: ({ event }) => event.output.conn.close(undefined),
          },
          {
            target: "connected",
            actions: assign({
              session: ({ event }) => event.output,
              peer: ({ event }) => event.output.peer,
              reason: null,
            }),
          },
        ],
        onError: {
          target: "down",
          actions: assign({
            attempt: ({ context }) => context.attempt + 1,
            reason: ({ event }) => (event.error instanceof Error ? event.error.message : String(event.error)),
          }),
        },
      },
    },
    connected: {
      exit: "dropSession",
      invoke: {
        src: "heartbeat",
        input: ({ context }) => ({ session: context.session as LinkSession, timing: context.timing }),
      },
      on: {
        "link.closed": {
          target: "down",
          actions: assign({ reason: ({ event }) => event.reason ?? "connection closed", attempt: 1 }),
        },
        "link.send": { actions: "send" },
      },
      initial: "alive",
      states: {
        alive: {
          entry: [assign({ attempt: 0 }), { type: "report", params: { state: "alive" } }],
          after: { suspectAfter: "suspect" },
          on: {
            "link.pong": {
              target: "alive",
              reenter: true,
              actions: assign({ rttMs: ({ event }) => event.rttMs }),
            },
          },
        },
        suspect: {
          entry: { type: "report", params: { state: "suspect" } },
          after: {
            downAfterSuspect: {
              target: "#peerLink.down",
              actions: assign({ reason: "no heartbeat reply within the failure timeout", attempt: 1 }),
            },
          },
          on: {
            "link.pong": { target: "alive", actions: assign({ rttMs: ({ event }) => event.rttMs }) },
          },
        },
      },
    },
    down: {
      entry: { type: "report", params: { state: "down" } },
      after: { backoff: "connecting" },
      on: { "link.retry": "connecting" },
    },
    // The address turned out to be this node itself (a bootstrap list that names us): stop quietly.
    self: {
      entry: { type: "report", params: { state: "self" } },
      type: "final",
    },
  },
});

/** Exponential backoff with full jitter in [delay/2, delay], capped. */
export function backoffDelay(
  attempt: number,
  timing: Pick<LinkTiming, "backoffBaseMs" | "backoffMaxMs">,
): number {
  const ceiling = Math.min(timing.backoffMaxMs, timing.backoffBaseMs * 2 ** Math.min(attempt, 20));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}
