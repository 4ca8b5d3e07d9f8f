// A hostile node for the trust-boundary tests: a real process holding a valid node certificate of the
// cluster, speaking the project's own protocol over its own TLS code, that lies. It is a test helper
// only; the production node has no such mode. It dials one real node as a node (its certificate lets it
// pull catalog entries, get chunks and push entries) and then, by mode:
//
//   push-swap PATH_ID OTHER_PATH_ID [manifest-only]
//                                    push, with a newer clock, the entry of PATH_ID carrying the file key,
//                                    manifest id and size of OTHER_PATH_ID's entry (only its manifest id
//                                    with manifest-only); print "pushed"; exit.
//   gateway MODE LISTEN              serve clients as their gateway on LISTEN (print "listening"), relaying
//                                    the real node's catalog and chunks, except that
//     flip            every chunk or manifest it serves from itself has one byte flipped; asked to
//                     exclude itself, it relays the real node's honest copy (and says so)
//     other-manifest  asked for a file's manifest, it serves another file's manifest from itself; asked
//                     to exclude itself, it relays the honest copy
//     liar            every copy has a flipped byte and is said to come from the real node, whatever the
//                     client excludes
//
// usage: hostile-node.ts CLUSTER_DIR NODE_CERT REAL_NODE_ADDR push-swap|gateway ARGS...
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { createServer, type TLSSocket } from "node:tls";
import { loadNodeBundle } from "../../src/cluster/cluster-dir.ts";
import type { CatalogEntry } from "../../src/cluster/types.ts";
import { checkHello, dialNode } from "../../src/node/dial.ts";
import { Connection, type ConnectionCounters, exchangeHello } from "../../src/protocol/connection.ts";
import { maxFrameBytesFor } from "../../src/protocol/frame.ts";
import { type Hello, type Message, PROTOCOL_VERSION } from "../../src/protocol/messages.ts";
import { peerRole, serverOptions } from "../../src/protocol/tls.ts";

const [clusterDir, certName, realAddr, command, ...args] = process.argv.slice(2);
if (!clusterDir || !certName || !realAddr || !command) {
  process.stderr.write(
    "usage: hostile-node.ts CLUSTER_DIR NODE_CERT REAL_NODE_ADDR push-swap|gateway ARGS...\n",
  );
  process.exit(2);
}

const CHUNK_SIZE = 1024 * 1024;
const maxFrameBytes = maxFrameBytesFor(CHUNK_SIZE);
const counters: ConnectionCounters = { bytesIn: 0, bytesOut: 0, framesRejected: {} };
const identity = await loadNodeBundle(join(clusterDir, "nodes", certName));
const selfId = randomBytes(16).toString("hex");
const listen = command === "gateway" ? (args[1] ?? "") : "127.0.0.1:1";
const hello: Hello = {
  t: "hello",
  protocol: PROTOCOL_VERSION,
  clusterId: identity.clusterId,
  role: "node",
  nodeId: selfId,
  listenAddr: listen,
};
const { conn: real, peer } = await dialNode(realAddr, { identity, hello, maxFrameBytes, counters });
real.resume();
const realId = peer.nodeId as string;

/** Every entry the real node holds (tombstones included), through node-to-node catalog pulls. */
async function allEntries(): Promise<CatalogEntry[]> {
  const buckets = Array.from({ length: 256 }, (_, i) => i);
  const entries: CatalogEntry[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const reply = await real.request({ t: "catalog.pull", buckets, ...(cursor ? { cursor } : {}) });
    if (reply.t !== "catalog.entries") throw new Error(`catalog.pull answered ${reply.t}`);
    entries.push(...reply.entries);
    cursor = reply.cursor;
    if (!cursor) break;
  }
  return entries;
}

async function realCopy(chunkId: string): Promise<Uint8Array> {
  const reply = await real.request({ t: "chunk.get", chunkId });
  if (reply.t !== "chunk.data") throw new Error(`chunk.get answered ${reply.t}`);
  return reply.data;
}

function flipped(bytes: Uint8Array): Uint8Array {
  const copy = Buffer.from(bytes);
  const at = Math.floor(copy.length / 2);
  copy[at] = (copy[at] as number) ^ 0x40;
  return copy;
}

if (command === "push-swap") {
  const [pathId, otherPathId, fields] = args;
  const entries = await allEntries();
  const victim = entries.find((e) => e.pathId === pathId);
  const donor = entries.find((e) => e.pathId === otherPathId);
  if (!victim || !donor) throw new Error("push-swap: the real node holds no entry for one of the path ids");
  const swapped: CatalogEntry = {
    ...victim,
    ...(fields === "manifest-only"
      ? { manifestId: donor.manifestId }
      : { fileKey: donor.fileKey, manifestId: donor.manifestId, size: donor.size }),
    hlc: { wall: victim.hlc.wall + 1, logical: 0 },
    writer: selfId,
  };
  await real.request({ t: "catalog.push", entries: [swapped] });
  process.stdout.write("pushed\n");
  real.close(undefined);
  process.exit(0);
}

if (command !== "gateway") throw new Error(`unknown command ${command}`);
const mode = args[0];
if (mode !== "flip" && mode !== "other-manifest" && mode !== "liar") throw new Error(`unknown mode ${mode}`);

/** What a lying gateway answers a client's file request with. */
async function answer(m: Message): Promise<Message> {
  switch (m.t) {
    case "file.lookup": {
      const live = (await allEntries()).filter((e) => !e.deleted);
      const entry = live.find((e) => (m.pathId ? e.pathId === m.pathId : e.fileKey === m.fileKey));
      return { t: "file.entry", re: m.id, entry: entry ?? null };
    }
    case "catalog.changes": {
      // Everything in one page every time, under a cursor that always moves on.
      const entries = await allEntries();
      const last = entries.at(-1);
      const wall = Math.max(Date.now(), (m.after?.wall ?? 0) + 1);
      const cursor = last && { wall, logical: 0, pathId: last.pathId };
      return {
        t: "catalog.changes.page",
        re: m.id,
        entries,
        ...(cursor ? { cursor } : {}),
        more: false,
        purgedThrough: null,
      };
    }
    case "file.chunk.read": {
      const honest = await realCopy(m.chunkId);
      if (mode === "liar") return { t: "chunk.data", re: m.id, data: flipped(honest), from: realId };
      if (m.exclude?.includes(selfId)) return { t: "chunk.data", re: m.id, data: honest, from: realId };
      if (mode === "flip") return { t: "chunk.data", re: m.id, data: flipped(honest), from: selfId };
      const manifests = (await allEntries()).flatMap((e) =>
        e.manifestId && !e.deleted ? [e.manifestId] : [],
      );
      const other = manifests.find((id) => id !== m.chunkId);
      if (!manifests.includes(m.chunkId) || !other)
        return { t: "chunk.data", re: m.id, data: honest, from: realId };
      return { t: "chunk.data", re: m.id, data: await realCopy(other), from: selfId };
    }
    default:
      throw new Error(`the hostile gateway does not serve ${m.t}`);
  }
}

const [host, port] = [
  listen.slice(0, listen.lastIndexOf(":")),
  Number(listen.slice(listen.lastIndexOf(":") + 1)),
];
const server = createServer({ ...serverOptions(identity), handshakeTimeout: 5_000 });
server.on("secureConnection", (socket: TLSSocket) => {
  // Only clients: a real node dialling back finds no peer here and keeps this node down.
  if (peerRole(socket) !== "client") {
    socket.destroy();
    return;
  }
  const conn = new Connection(socket, { peerRole: "client", maxFrameBytes, counters });
  conn.on("message", (m) => {
    if (!("id" in m)) return;
    answer(m).then(
      (reply) => conn.send(reply),
      (err: unknown) => conn.replyError(m.id, err),
    );
  });
  exchangeHello(conn, hello, (theirs) => checkHello(hello, theirs, "client")).then(
    () => conn.resume(),
    () => conn.close(undefined),
  );
});
server.listen(port, host, () => process.stdout.write("listening\n"));
