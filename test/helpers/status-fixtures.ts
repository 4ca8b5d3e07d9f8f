// Status snapshots for the monitor's tests: a small cluster whose members' states, store figures and
// counters a test sets, in the exact shape nodes send (checked against the wire schema).
import { type MemberState, NodeStatus } from "../../src/protocol/messages.ts";

export const CLUSTER_ID = "c1".repeat(16);

/** Three nodes; ids start with distinct 8-character prefixes so short ids are easy to find in a frame. */
export const NODES = [
  { nodeId: `aaaa0000${"0".repeat(24)}`, addr: "127.0.0.1:8000" },
  { nodeId: `bbbb1111${"1".repeat(24)}`, addr: "127.0.0.1:8001" },
  { nodeId: `cccc2222${"2".repeat(24)}`, addr: "127.0.0.1:8002" },
] as const;

export interface StatusOptions {
  /** Index into NODES of the node reporting. */
  self: number;
  /** States of the other members as the reporter sees them, by index; members left out are omitted. */
  peers?: Partial<Record<number, Exclude<MemberState, "self">>>;
  startedAt?: number;
  chunks?: number;
  bytes?: number;
  bytesIn?: number;
  bytesOut?: number;
  framesRejected?: Record<string, number>;
  uploads?: number;
  reads?: number;
  deletes?: number;
  files?: number;
  underReplicated?: number | null;
  blake3Backend?: NodeStatus["blake3Backend"];
  /** Below its free-space reserve. */
  full?: boolean;
  /** The node's read-only sentence, when it is read-only. */
  readOnly?: string;
  /** What its repair has left to move. */
  repair?: NodeStatus["repair"];
}

/** A status as node `self` would send it. */
export function nodeStatus(o: StatusOptions): NodeStatus {
  const self = NODES[o.self];
  if (!self) throw new RangeError(`no node ${o.self} in the fixture`);
  const peers = Object.entries(o.peers ?? {}).map(([i, state]) => {
    const peer = NODES[Number(i)];
    if (!peer || state === undefined) throw new RangeError(`no node ${i} in the fixture`);
    return { ...peer, state, rttMs: state === "alive" ? 0.5 : null, lastSeen: 1_000 };
  });
  return NodeStatus.parse({
    clusterId: CLUSTER_ID,
    nodeId: self.nodeId,
    listenAddr: self.addr,
    startedAt: o.startedAt ?? 1_000,
    blake3Backend: o.blake3Backend ?? "native",
    members: [{ ...self, state: "self", rttMs: 0, lastSeen: 2_000 }, ...peers],
    store: {
      chunks: o.chunks ?? 0,
      bytes: o.bytes ?? 0,
      diskFree: 50 * 1024 ** 3,
      full: o.full ?? false,
      reserveBytes: 1024 ** 3,
    },
    counters: { bytesIn: o.bytesIn ?? 0, bytesOut: o.bytesOut ?? 0, framesRejected: o.framesRejected ?? {} },
    catalog: { files: o.files ?? 0, tombstones: 0 },
    activity: {
      uploads: o.uploads ?? 0,
      reads: o.reads ?? 0,
      deletes: o.deletes ?? 0,
      chunksStored: 0,
      chunksServed: 0,
      chunkReads: 0,
    },
    underReplicated: o.underReplicated ?? null,
    ...(o.repair ? { repair: o.repair } : {}),
    gc: { reclaimableBytes: null, reclaimedBytes: 0 },
    ...(o.readOnly ? { readOnly: o.readOnly } : {}),
  });
}

/** Node 0's view when every member is alive. */
export function allAliveGateway(extra: Omit<StatusOptions, "self" | "peers"> = {}): NodeStatus {
  return nodeStatus({ self: 0, peers: { 1: "alive", 2: "alive" }, ...extra });
}
