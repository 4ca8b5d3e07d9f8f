// The node actor: owns the listener, one peer link per known member address and one server per inbound
// connection, and keeps the member table (who exists, at which address, alive/suspect/down, RTT).
// Side effects - remembering members on disk, logging, gossip - are actions provided by the node process.
import {
  type ActorRefFrom,
  enqueueActions,
  fromCallback,
  type NonReducibleUnknown,
  raise,
  setup,
  stopChild,
} from "xstate";
import type { Connection } from "../protocol/connection.ts";
import type { Hello } from "../protocol/messages.ts";
import { type LinkReport, type LinkTiming, peerLinkMachine } from "./peer-link.ts";

export type MemberState = "alive" | "suspect" | "down";

export interface Member {
  nodeId: string;
  addr: string;
  state: MemberState;
  rttMs: number | null;
  lastSeen: number | null;
}

export interface SelfInfo {
  nodeId: string;
  clusterId: string;
  listenAddr: string;
}

export interface NodeInput {
  self: SelfInfo;
  timing: LinkTiming;
  /** Bootstrap addresses plus members remembered from earlier runs. */
  known: { addr: string; nodeId?: string }[];
}

export type NodeEvent =
  | LinkReport
  | { type: "members.discovered"; members: { addr: string; nodeId?: string }[] }
  | { type: "inbound.opened"; conn: Connection; hello: Hello }
  | { type: "inbound.closed"; id: string };

export type LinkRef = ActorRefFrom<typeof peerLinkMachine>;

interface NodeContext {
  self: SelfInfo;
  timing: LinkTiming;
  members: Record<string, Member>;
  /** Outbound links: the child actor id of the link dialling each address. */
  links: Record<string, string>;
  /** Addresses that turned out to be this node. */
  selfAddrs: string[];
  inboundSeq: number;
  bootstrap: { addr: string; nodeId?: string }[];
}

export const nodeMachine = setup({
  types: {
    context: {} as NodeContext,
    events: {} as NodeEvent,
    input: {} as NodeInput,
  },
  actors: {
    peerLink: peerLinkMachine,
    // Provided by the node process: the TLS server; sends `inbound.opened` after a good hello.
    listener: fromCallback<NodeEvent, NonReducibleUnknown>(() => {
      throw new Error("node: listener is not provided");
    }),
    // Provided by the node process: answers the requests arriving on one inbound connection.
    inbound: fromCallback<NodeEvent, { id: string; conn: Connection; hello: Hello }>(() => {
      throw new Error("node: inbound is not provided");
    }),
  },
  actions: {
    // Provided: persist a member so a restarted node rejoins without its bootstrap list.
    rememberMember: (_, _member: Member) => {},
    // Provided: start catalog anti-entropy and repair with a peer that just became alive.
    peerArrived: (_, _member: Member) => {},
    // Provided: tell every alive link's peer about every member we know.
    gossip: () => {},
    log: (_, _params: { level: "info" | "warn"; msg: string; fields?: Record<string, unknown> }) => {},
  },
}).createMachine({
  id: "node",
  context: ({ input }) => ({
    self: input.self,
    timing: input.timing,
    members: {},
    links: {},
    selfAddrs: [input.self.listenAddr],
    inboundSeq: 0,
    bootstrap: input.known,
  }),
  invoke: { id: "listener", src: "listener" },
  entry: raise(({ context }) => ({ type: "members.discovered" as const, members: context.bootstrap })),
  on: {
    "members.discovered": {
      actions: enqueueActions(({ context, enqueue, event }) => {
        const links = { ...context.links };
        for (const m of event.members) {
          if (m.nodeId === context.self.nodeId || context.selfAddrs.includes(m.addr)) continue;
          if (links[m.addr]) continue;
          const existing = m.nodeId ? context.members[m.nodeId] : undefined;
          if (existing && links[existing.addr]) continue; // already linked under its own address
          enqueue.spawnChild("peerLink", {
            id: linkId(m.addr),
            input: { addr: m.addr, selfNodeId: context.self.nodeId, timing: context.timing },
          });
          links[m.addr] = linkId(m.addr);
        }
        enqueue.assign({ links });
      }),
    },
    "link.state": {
      actions: enqueueActions(({ context, enqueue, event }) => {
        if (event.state === "self") {
          enqueue(stopChild(linkId(event.addr)));
          const { [event.addr]: _gone, ...links } = context.links;
          enqueue.assign({ links, selfAddrs: [...context.selfAddrs, event.addr] });
          return;
        }
        if (!event.nodeId) return; // never connected yet: nothing to say about a member
        const previous = context.members[event.nodeId];
        if (previous && previous.addr !== event.addr && context.links[previous.addr]) {
          if (previous.state === "down" && event.state === "alive") {
            // A down member reached at another address (it moved): follow it there.
            enqueue(stopChild(linkId(previous.addr)));
            const { [previous.addr]: _left, ...links } = context.links;
            enqueue.assign({ links });
          } else if (previous.state === "down") {
            return; // both addresses still trying: the first to reach it wins
          } else {
            // A second address for a member we already link to (e.g. bootstrap ":8000" and its own
            // listenAddr): keep the link that came first.
            enqueue(stopChild(linkId(event.addr)));
            const { [event.addr]: _dup, ...links } = context.links;
            enqueue.assign({ links });
            return;
          }
        }
        const state = event.state === "connecting" ? "down" : event.state;
        const member: Member = {
          nodeId: event.nodeId,
          addr: event.addr,
          state,
          rttMs: state === "alive" ? event.rttMs : (previous?.rttMs ?? null),
          lastSeen: state === "alive" ? Date.now() : (previous?.lastSeen ?? null),
        };
        enqueue.assign({ members: { ...context.members, [event.nodeId]: member } });
        if (previous?.state !== state) {
          enqueue({
            type: "log",
            params: {
              level: state === "alive" ? "info" : "warn",
              msg: `peer ${state}`,
              fields: { peer: event.nodeId, addr: event.addr, reason: event.reason },
            },
          });
          if (state === "alive") {
            enqueue({ type: "rememberMember", params: member });
            enqueue({ type: "peerArrived", params: member });
            enqueue("gossip");
          }
        }
      }),
    },
    "inbound.opened": {
      actions: enqueueActions(({ context, enqueue, event }) => {
        const id = `inbound-${context.inboundSeq}`;
        enqueue.spawnChild("inbound", { id, input: { id, conn: event.conn, hello: event.hello } });
        enqueue.assign({ inboundSeq: context.inboundSeq + 1 });
        // A node that dials us is alive: a link waiting out its backoff to it dials now, and a node we
        // did not know yet is dialled back without waiting for gossip.
        const { nodeId, listenAddr } = event.hello;
        if (event.hello.role !== "node" || !nodeId || !listenAddr) return;
        const member = context.members[nodeId];
        if (member?.state === "down" && context.links[member.addr]) {
          enqueue.sendTo(linkId(member.addr), { type: "link.retry" });
        }
        if (member?.state === "down" && member.addr !== listenAddr && !context.links[listenAddr]) {
          // It may have come back on another address (its hello names the one it listens on, and its
          // certificate vouches for the node): dial that one too; the first link to reach it wins.
          enqueue.spawnChild("peerLink", {
            id: linkId(listenAddr),
            input: { addr: listenAddr, selfNodeId: context.self.nodeId, timing: context.timing },
          });
          enqueue.assign({ links: { ...context.links, [listenAddr]: linkId(listenAddr) } });
        } else if (!member) {
          enqueue.raise({ type: "members.discovered", members: [{ nodeId, addr: listenAddr }] });
        }
      }),
    },
    "inbound.closed": {
      actions: stopChild(({ event }) => event.id),
    },
  },
});

export function linkId(addr: string): string {
  return `link:${addr}`;
}
