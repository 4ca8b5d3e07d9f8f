// Hostile or broken peers against one real node: each is refused and counted, and the node keeps
// answering status throughout. In volume, refusals cost the node little memory and few log lines.
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { connect as netConnect } from "node:net";
import { join } from "node:path";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClusterIdentity, initCluster, loadIdentity } from "../../src/cluster/cluster-dir.ts";
import { DmfsError } from "../../src/errors.ts";
import { splitHostPort } from "../../src/node/address.ts";
import { encodeFrame, maxFrameBytesFor } from "../../src/protocol/frame.ts";
import { PROTOCOL_VERSION } from "../../src/protocol/messages.ts";
import { clientOptions } from "../../src/protocol/tls.ts";
import { CHUNK_SIZE, processMemory, TestCluster, waitFor } from "../helpers/cluster-harness.ts";

let cluster: TestCluster;
let addr: string;
const limits = { maxFrameBytes: maxFrameBytesFor(CHUNK_SIZE) };
/** Connections of each hostile kind in the volume test. */
const LOOP = 1_000;

beforeAll(async () => {
  cluster = await TestCluster.create([{}]);
  await cluster.startAll();
  addr = cluster.addrs[0] as string;
});
afterAll(async () => {
  await cluster?.stop();
});

async function rejected(reason: string): Promise<number> {
  return (await cluster.status(0)).counters.framesRejected[reason] ?? 0;
}

/** A TLS connection with the cluster's own client certificate, hello sent and answered. */
async function authenticatedSocket(
  identity: ClusterIdentity,
  clusterId?: string,
): Promise<{ socket: TLSSocket; received: Buffer[] }> {
  const { host, port } = splitHostPort(addr);
  const socket = tlsConnect({ ...clientOptions(identity), host, port });
  await once(socket, "secureConnect");
  const received: Buffer[] = [];
  socket.on("data", (b: Buffer) => received.push(b));
  socket.on("error", () => undefined);
  const hello = {
    t: "hello",
    protocol: PROTOCOL_VERSION,
    clusterId: clusterId ?? identity.clusterId,
    role: "client",
  };
  socket.write(encodeFrame(hello as never, limits));
  return { socket, received };
}

async function closed(socket: {
  destroyed: boolean;
  once: (e: "close", f: () => void) => unknown;
}): Promise<void> {
  if (socket.destroyed) return;
  await new Promise<void>((r) => socket.once("close", r));
}

describe("a node facing hostile peers", () => {
  it("drops random bytes sent to its TCP port and keeps answering", async () => {
    const before = await rejected("E_TLS_HANDSHAKE");
    const { host, port } = splitHostPort(addr);
    const s = netConnect({ host, port });
    s.on("error", () => undefined);
    await once(s, "connect");
    s.write(randomBytes(4096));
    await closed(s);
    await waitFor(
      "the handshake failure to be counted",
      async () => (await rejected("E_TLS_HANDSHAKE")) > before,
    );
  });

  it("refuses a TLS client whose certificate comes from another cluster's CA", async () => {
    const other = await initCluster({ dir: join(cluster.dir, "other-cluster"), nodes: 1 });
    const foreign = await loadIdentity(other.dir, "client");
    const { host, port } = splitHostPort(addr);
    const before = await rejected("E_TLS_HANDSHAKE");
    const s = tlsConnect({ ...clientOptions(foreign), host, port });
    const outcome = await new Promise<string>((resolve) => {
      s.once("secureConnect", () => resolve("connected"));
      s.once("error", (err) => resolve(`error: ${err.message}`));
    });
    expect(outcome).toMatch(/^error/);
    s.destroy();
    await waitFor(
      "the foreign certificate to be counted",
      async () => (await rejected("E_TLS_HANDSHAKE")) > before,
    );
  });

  it("closes the link of a hello with another cluster id, saying why", async () => {
    const before = await rejected("E_HELLO_MISMATCH");
    const identity = await loadIdentity(cluster.clusterDir, "client");
    const { socket, received } = await authenticatedSocket(identity, "0".repeat(32));
    await closed(socket);
    expect(Buffer.concat(received).toString("latin1")).toContain("does not match this cluster");
    await waitFor("the mismatch to be counted", async () => (await rejected("E_HELLO_MISMATCH")) > before);
  });

  it("closes a client connection that sends a node-only message", async () => {
    const before = await rejected("E_UNAUTHORIZED");
    const client = await cluster.client(0);
    const put = client.request({ t: "chunk.put", chunkId: "a".repeat(64), data: new Uint8Array(8) }, "ok");
    await expect(put).rejects.toBeInstanceOf(DmfsError);
    await waitFor("the client connection to close", () => client.closed);
    await waitFor(
      "the unauthorized message to be counted",
      async () => (await rejected("E_UNAUTHORIZED")) > before,
    );
  });

  it("closes a connection that announces a frame larger than the maximum, before reading it", async () => {
    const before = await rejected("E_FRAME_TOO_LARGE");
    const { socket } = await authenticatedSocket(await loadIdentity(cluster.clusterDir, "client"));
    const header = Buffer.alloc(4);
    header.writeUInt32BE(0x7fff_ffff, 0);
    socket.write(header);
    await closed(socket);
    await waitFor(
      "the oversized frame to be counted",
      async () => (await rejected("E_FRAME_TOO_LARGE")) > before,
    );
  });

  it("stays up and small under 1,000 each of dropped connections, TLS connects without a client certificate and garbage frames, and logs them in aggregate", async () => {
    const node = cluster.nodes[0];
    if (!node?.proc.pid) throw new Error("node 0 is not running");
    const pid = node.proc.pid;
    const identity = await loadIdentity(cluster.clusterDir, "client");
    const { host, port } = splitHostPort(addr);
    const before = (await cluster.status(0)).counters.framesRejected;
    const logBefore = node.output.length;

    for (let i = 0; i < LOOP; i++) {
      const s = netConnect({ host, port });
      s.on("error", () => undefined);
      await once(s, "connect");
      s.destroy();
    }
    // The memory bound holds for the refusals after TLS: the first thousand connections of any kind
    // grow a fresh node's heap by ~20 MiB of garbage that waits for V8's first full collection.
    const rssBefore = processMemory(pid, "VmRSS");
    for (let i = 0; i < LOOP; i++) {
      // The cluster's CA, so the client accepts the node; no certificate of its own to show.
      const s = tlsConnect({
        ca: identity.ca,
        host,
        port,
        minVersion: "TLSv1.3",
        checkServerIdentity: () => undefined,
      });
      s.on("error", () => undefined);
      await closed(s);
    }
    for (let i = 0; i < LOOP; i++) {
      const { socket } = await authenticatedSocket(identity);
      const garbage = randomBytes(4 + 64);
      garbage.writeUInt32BE(64, 0);
      socket.write(garbage);
      await closed(socket);
    }

    const counted = async () => {
      const now = (await cluster.status(0)).counters.framesRejected;
      const grew = (code: string) => (now[code] ?? 0) - (before[code] ?? 0);
      // Random bytes mostly fail msgpack; a few decode to a value that is no message.
      return (
        grew("E_TLS_HANDSHAKE") >= 2 * LOOP && grew("E_FRAME_MALFORMED") + grew("E_MESSAGE_INVALID") >= LOOP
      );
    };
    await waitFor("every refusal to be counted", counted);
    const rssGrowth = processMemory(pid, "VmRSS") - rssBefore;
    const logLines = node.output.length - logBefore;
    console.log(
      `${3 * LOOP} refused connections: node RSS grew ${(rssGrowth / 1024 / 1024).toFixed(1)} MiB over the last ${2 * LOOP}, log grew ${logLines} lines`,
    );
    expect(cluster.isRunning(0)).toBe(true);
    expect(rssGrowth).toBeLessThan(50 * 1024 * 1024);
    expect(logLines).toBeLessThan(50);
    const refusals = node.output
      .slice(logBefore)
      .filter((l) => l.includes("refused"))
      .map((l) => JSON.parse(l) as { msg: string; source: string });
    expect(refusals.some((r) => /^refused \d+ more connections/.test(r.msg))).toBe(true);
    // Even a peer that hung up mid-handshake is named by its address.
    expect(new Set(refusals.map((r) => r.source))).toEqual(new Set(["127.0.0.1"]));
  }, 180_000);
});
