// A peer whose clock is an hour ahead cannot make later writes lose. First a raw node built on the
// project's own protocol code (a valid node certificate, real TLS) pushes a catalog entry stamped an
// hour ahead to a real node, and serves it to every node's anti-entropy: both are refused and logged.
// Then a real node process runs with its clock an hour ahead (DMFS_TEST_CLOCK_OFFSET_MS): it notices
// from its peers' heartbeats and refuses to stamp writes. Each time a later honest write to the same
// path wins on every node.
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { createServer, type Server } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadNodeBundle } from "../../src/cluster/cluster-dir.ts";
import { bucketDigests, bucketOf } from "../../src/cluster/digest.ts";
import type { CatalogEntry } from "../../src/cluster/types.ts";
import { splitHostPort } from "../../src/node/address.ts";
import { dialNode } from "../../src/node/dial.ts";
import { Connection, exchangeHello } from "../../src/protocol/connection.ts";
import { maxFrameBytesFor } from "../../src/protocol/frame.ts";
import { type Hello, type Message, PROTOCOL_VERSION } from "../../src/protocol/messages.ts";
import { serverOptions } from "../../src/protocol/tls.ts";
import { CHUNK_SIZE, seededBytes, TestCluster, waitFor } from "../helpers/cluster-harness.ts";

const RAW = 3;
const AN_HOUR_MS = 3_600_000;
let cluster: TestCluster;
let server: Server | undefined;
const links: Connection[] = [];

beforeAll(async () => {
  // Four node certificates and addresses; the fourth belongs to the raw peer.
  cluster = await TestCluster.create([{ join: [] }, { join: [0] }, { join: [0, 1] }, {}], {
    replication: 3,
    writeQuorum: 2,
  });
  await Promise.all([0, 1, 2].map((i) => cluster.start(i)));
  await cluster.waitForMesh();
});

afterAll(async () => {
  for (const l of links) l.close(undefined);
  server?.close();
  await cluster?.stop();
});

/** Starts the raw peer: it listens at its address, answers as a node, and holds `catalog` only. */
async function startRawPeer(
  catalog: CatalogEntry[],
): Promise<{ hello: Hello; pulls: () => number; dial: (i: number) => Promise<Connection> }> {
  const identity = await loadNodeBundle(cluster.bundleDir(RAW));
  const counters = { bytesIn: 0, bytesOut: 0, framesRejected: {} };
  const maxFrameBytes = maxFrameBytesFor(CHUNK_SIZE);
  const hello: Hello = {
    t: "hello",
    protocol: PROTOCOL_VERSION,
    clusterId: identity.clusterId,
    role: "node",
    nodeId: randomBytes(16).toString("hex"),
    listenAddr: cluster.addrs[RAW] as string,
  };
  let pulls = 0;
  const answer = (conn: Connection, m: Message): Message | undefined => {
    switch (m.t) {
      case "ping":
        return { t: "pong", re: m.id, at: m.at };
      case "catalog.digest":
        return { t: "catalog.digest.reply", re: m.id, buckets: bucketDigests(catalog) };
      case "catalog.pull":
        pulls++;
        return {
          t: "catalog.entries",
          re: m.id,
          entries: catalog.filter((e) => m.buckets.includes(bucketOf(e.pathId))),
        };
      default:
        if ("id" in m) void conn.replyError(m.id, new Error("this raw peer serves its catalog only"));
        return undefined;
    }
  };
  const serve = (conn: Connection) => {
    links.push(conn);
    conn.on("message", (m) => {
      const reply = answer(conn, m);
      if (reply) conn.send(reply).catch(() => undefined);
    });
    conn.resume();
  };
  const { host, port } = splitHostPort(hello.listenAddr as string);
  server = createServer(serverOptions(identity), (socket) => {
    const conn = new Connection(socket, { peerRole: "node", maxFrameBytes, counters });
    exchangeHello(conn, hello, () => undefined, undefined, { answer: true }).then(
      () => serve(conn),
      () => undefined,
    );
  });
  await new Promise<void>((resolve) => server?.listen(port, host, resolve));
  return {
    hello,
    pulls: () => pulls,
    dial: async (i) => {
      const { conn } = await dialNode(cluster.addrs[i] as string, {
        identity,
        hello,
        maxFrameBytes,
        counters,
      });
      serve(conn);
      return conn;
    },
  };
}

function clockRefusals(node: number, source: "push" | "anti-entropy"): string[] {
  return (cluster.nodes[node]?.output ?? []).filter(
    (l) =>
      l.includes("refused catalog entries stamped too far ahead") &&
      (source === "anti-entropy" ? l.includes('"limitMs":60000') : l.includes("3600 s ahead")),
  );
}

describe("a peer whose clock is an hour ahead", () => {
  it("cannot make a later honest write lose, by push or through anti-entropy", async () => {
    const first = await seededBytes("clock-first", 3000);
    const later = await seededBytes("clock-later", 5000);
    await (await cluster.files(0)).upload(Readable.from([first]), "clock.txt", 0);
    const { entry: honest } = await (await cluster.files(0)).resolve("clock.txt");

    const catalog: CatalogEntry[] = [];
    const raw = await startRawPeer(catalog);
    // The first version again, stamped an hour ahead: were it taken, it would beat every later write.
    const fromTheFuture: CatalogEntry = {
      ...honest,
      hlc: { wall: Date.now() + AN_HOUR_MS, logical: 0 },
      writer: raw.hello.nodeId as string,
    };
    catalog.push(fromTheFuture);
    const link = await raw.dial(0);

    // Pushed: refused with a reason, and logged by the node.
    await expect(link.request({ t: "catalog.push", entries: [fromTheFuture] })).rejects.toMatchObject({
      code: "E_CLOCK_AHEAD",
    });
    expect(clockRefusals(0, "push")).toHaveLength(1);
    // Served: node 0 dials the raw peer back, gossip brings nodes 1 and 2, and every node's anti-entropy
    // pulls the entry and leaves it out.
    await waitFor(
      "every node's anti-entropy to refuse the entry from the future",
      () => [0, 1, 2].every((i) => clockRefusals(i, "anti-entropy").length > 0),
      20_000,
    );

    await (await cluster.files(1)).upload(Readable.from([later]), "clock.txt", 0);
    for (const i of [0, 1, 2]) {
      await waitFor(`node ${i} to serve the later write`, async () =>
        (await cluster.readBack("clock.txt", i)).equals(later),
      );
    }
    // Still so after more anti-entropy rounds with the raw peer (every 5 s), logged once per node.
    const pulled = raw.pulls();
    await waitFor("three more anti-entropy pulls from the raw peer", () => raw.pulls() >= pulled + 3, 20_000);
    for (const i of [0, 1, 2]) {
      expect((await cluster.readBack("clock.txt", i)).equals(later)).toBe(true);
      expect(clockRefusals(i, "anti-entropy")).toHaveLength(1);
    }
  });
});

describe("a node process whose own clock is an hour ahead", () => {
  it("refuses to stamp writes, so a later honest write wins on every node, itself included", async () => {
    await cluster.kill(2);
    await cluster.start(2, { env: { DMFS_TEST_CLOCK_OFFSET_MS: String(AN_HOUR_MS) } });
    await waitFor(
      "node 2 to notice that both peers' clocks are an hour behind its own",
      () =>
        (cluster.nodes[2]?.output ?? []).filter((l) => l.includes("clock is more than 60 s behind")).length >=
        2,
      20_000,
    );

    const skewed = await (await cluster.files(2))
      .upload(Readable.from([await seededBytes("skewed", 4000)]), "skew.txt", 0)
      .catch((err: unknown) => err);
    expect(skewed).toMatchObject({ code: "E_CLOCK_AHEAD" });
    expect(String((skewed as Error).message)).toMatch(/clock runs 36\d\d s ahead of most of its peers/);

    const honest = await seededBytes("honest", 6000);
    await (await cluster.files(0)).upload(Readable.from([honest]), "skew.txt", 0);
    for (const i of [0, 1, 2]) {
      await waitFor(`node ${i} to serve the honest write`, async () =>
        (await cluster.readBack("skew.txt", i)).equals(honest),
      );
    }
  });
});
