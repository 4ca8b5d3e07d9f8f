// Direct data paths on real nodes (DESIGN.md section 4, src/client/chunk-routes.ts): a large `dmfs read`
// through one node asks every other node for the chunks it holds itself, so the gateway relays nothing;
// a large upload sends its chunks to their first homes, so the gateway forwards (almost) nothing;
// a node killed in the middle of a read costs the read nothing while another copy exists; and a client
// without direct routes still reads everything through its gateway.
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChunkRoutesOptions } from "../../src/client/chunk-routes.ts";
import { NodeClient } from "../../src/client/node-client.ts";
import { loadIdentity } from "../../src/cluster/cluster-dir.ts";
import { seededBytes, seededStream, TestCluster } from "../helpers/cluster-harness.ts";

const CHUNK = 64 * 1024;
const CHUNKS = 48;
const SIZE = CHUNKS * CHUNK - 1000;

/** Chunks and manifests each node served to clients so far (status activity.chunkReads). */
async function servedByEach(cluster: TestCluster, nodes: number[]): Promise<number[]> {
  return Promise.all(nodes.map(async (i) => (await cluster.status(i)).activity.chunkReads));
}

async function directPaths(cluster: TestCluster): Promise<ChunkRoutesOptions> {
  const identity = await loadIdentity(cluster.clusterDir, "client");
  return {
    caPem: identity.ca,
    clusterId: identity.clusterId,
    dial: (addr) => NodeClient.connect([addr], { identity, chunkSize: CHUNK }),
  };
}

describe("direct reads, R=1: each chunk comes from the node that holds it", { timeout: 120_000 }, () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await TestCluster.create([{}, { join: [0] }, { join: [0, 1] }], {
      replication: 1,
      writeQuorum: 1,
    });
    await cluster.startAll();
    await cluster.waitForMesh();
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it("`dmfs read` through node 0 fetches node 1's and node 2's chunks from them, byte-identical", async () => {
    const files = await cluster.files(0, { chunkSize: CHUNK });
    await files.upload(seededStream("direct", SIZE), "direct.bin", Date.now());
    const stat = await files.stat("direct.bin");
    const ids = await cluster.nodeIds();
    const held = [0, 1, 2].map((i) => stat.chunks.filter((c) => c.nodes.includes(ids[i] as string)).length);
    // R=1 over three nodes: each holds some (a 1-in-3^48 chance otherwise).
    expect(held.every((n) => n > 0)).toBe(true);

    const before = await servedByEach(cluster, [0, 1, 2]);
    const run = await cluster.runCli(["read", "direct.bin"], { gateway: 0 });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdoutBytes.equals(await seededBytes("direct", SIZE))).toBe(true);
    const after = await servedByEach(cluster, [0, 1, 2]);
    const served = after.map((n, i) => n - (before[i] as number));
    // The gateway serves the manifest and its own chunks; every other chunk went straight to its holder.
    expect(served).toEqual([(held[0] as number) + 1, held[1], held[2]]);
  });

  it("an upload through node 0 sends chunks past the eighth straight to their home", async () => {
    const files = await cluster.files(0, { chunkSize: CHUNK, directPaths: await directPaths(cluster) });
    const bytesOut = async () => (await cluster.status(0)).counters.bytesOut;
    const before = await bytesOut();
    await files.upload(seededStream("direct-up", SIZE), "direct-up.bin", Date.now());
    const forwarded = (await bytesOut()) - before;
    files.close();
    // Through the gateway alone, node 0 would forward the ~32 of 48 chunks homed elsewhere (~2 MiB);
    // directly it forwards at most the first 8, plus heartbeats and the catalog push.
    expect(forwarded).toBeLessThan(8 * CHUNK + 256 * 1024);
    const run = await cluster.runCli(["read", "direct-up.bin"], { gateway: 1 });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdoutBytes.equals(await seededBytes("direct-up", SIZE))).toBe(true);
  });

  it("a small read goes through the gateway alone", async () => {
    const files = await cluster.files(0, { chunkSize: CHUNK });
    await files.upload(seededStream("small", 3 * CHUNK), "small.bin", Date.now());
    const before = await servedByEach(cluster, [0, 1, 2]);
    const run = await cluster.runCli(["read", "small.bin"], { gateway: 0 });
    expect(run.code, run.stderr).toBe(0);
    const after = await servedByEach(cluster, [0, 1, 2]);
    expect(after.map((n, i) => n - (before[i] as number))).toEqual([4, 0, 0]);
  });
});

describe("direct reads, R=2: a holder killed during a read", { timeout: 120_000 }, () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await TestCluster.create([{}, { join: [0] }, { join: [0, 1] }], {
      replication: 2,
      writeQuorum: 2,
    });
    await cluster.startAll();
    await cluster.waitForMesh();
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it("finishes byte-identical from the other copies once node 2 is gone", async () => {
    const files = await cluster.files(0, { chunkSize: CHUNK, directPaths: await directPaths(cluster) });
    await files.upload(seededStream("killed", SIZE), "killed.bin", Date.now());
    const servedBefore = (await servedByEach(cluster, [2]))[0] as number;

    // The read's output holds its fifth piece until node 2 is dead: every chunk after it is fetched
    // with node 2's direct connection gone.
    const pieces: Buffer[] = [];
    let killed: Promise<void> | undefined;
    const out = new Writable({
      write(piece: Buffer, _encoding, done) {
        pieces.push(Buffer.from(piece));
        if (pieces.length !== 5) return done();
        killed = (async () => {
          expect((await servedByEach(cluster, [2]))[0]).toBeGreaterThan(servedBefore); // it was read from
          await cluster.kill(2);
        })();
        killed.then(() => done(), done);
      },
    });
    await files.read("killed.bin", out);
    await killed;
    expect(Buffer.concat(pieces).equals(await seededBytes("killed", SIZE))).toBe(true);
    files.close();
  });
});
