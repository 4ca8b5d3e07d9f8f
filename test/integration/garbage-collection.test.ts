// Garbage collection on three real nodes (R=3, W=2) with a grace of 1.5 s: a deleted 100 MiB file's
// chunks leave every node's disk, a chunk shared with a live file stays, an upload killed halfway is
// reclaimed, and a slow upload whose chunks outlive the grace (it renews them) loses nothing. With R=1, a
// live manifest whose only holder is down stops every deletion until it is back.
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GcReportJson } from "../../src/cli/gc.ts";
import type { ClusterStatusJson } from "../../src/cli/status.ts";
import type { FileClient } from "../../src/client/file-client.ts";
import {
  CLI,
  seededBytes,
  seededStream,
  sha256Of,
  TestCluster,
  waitFor,
  writeSeededFile,
} from "../helpers/cluster-harness.ts";

const MIB = 1024 * 1024;
const GRACE_MS = 1_500;
const NODES = [0, 1, 2];
let cluster: TestCluster;
let files: FileClient;

beforeAll(async () => {
  cluster = await TestCluster.create([{ join: [] }, { join: [0] }, { join: [0, 1] }], {
    replication: 3,
    writeQuorum: 2,
  });
  try {
    for (const i of NODES)
      cluster.specs[i] = { ...cluster.specs[i], extraArgs: ["--gc-grace-ms", String(GRACE_MS)] };
    await cluster.startAll();
    await cluster.waitForMesh();
    files = await cluster.files(0);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

/** Bytes of chunk files on node i's disk, counted by walking its store (not the node's own figure). */
async function chunkBytes(i: number): Promise<number> {
  const root = join(cluster.dir, `node-${i}`, "chunks");
  let total = 0;
  for (const name of await readdir(root, { recursive: true })) {
    const info = await stat(join(root, name)).catch(() => undefined);
    if (info?.isFile()) total += info.size;
  }
  return total;
}

const allChunkBytes = () => Promise.all(NODES.map(chunkBytes));

async function gcNow(): Promise<GcReportJson> {
  const run = await cluster.runCli(["gc", "--now", "--json"]);
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as GcReportJson;
}

/** Runs `dmfs gc --now` until every node's chunk bytes are within 1% of `target` (bounded). */
async function collectBackTo(target: number[], timeoutMs = 30_000): Promise<number[]> {
  let sizes: number[] = [];
  await waitFor(
    "garbage collection to bring every node back within 1% of its size",
    async () => {
      await gcNow();
      sizes = await allChunkBytes();
      return sizes.every((s, i) => Math.abs(s - (target[i] as number)) <= 0.01 * (target[i] as number));
    },
    timeoutMs,
  );
  return sizes;
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** SHA-256 of the file `key` read through `via` (the shared cluster's node 0 unless given). */
async function readSha(key: string, via: FileClient = files): Promise<string> {
  const hash = createHash("sha256");
  const out = new Writable({
    write(piece: Buffer, _encoding, done) {
      hash.update(piece);
      done();
    },
  });
  await via.read(key, out);
  return hash.digest("hex");
}

describe("garbage collection", () => {
  let kept: { key: string; sha: string };

  it("reclaims a deleted 100 MiB file on every node and keeps the live file", async () => {
    const keep = await files.upload(seededStream("gc-keep", 4 * MIB + 5), "gc/keep.bin", 1);
    kept = { key: keep.key, sha: await sha256Of(seededStream("gc-keep", 4 * MIB + 5)) };
    const before = await allChunkBytes();
    expect(before.every((b) => b > 4 * MIB)).toBe(true);

    const big = await files.upload(seededStream("gc-big", 100 * MIB), "gc/big.bin", 2);
    const during = await allChunkBytes();
    expect(during.every((d, i) => d > (before[i] as number) + 90 * MIB)).toBe(true);
    await files.delete(big.key);

    const after = await collectBackTo(before);
    expect(await readSha(kept.key)).toBe(kept.sha);
    const status = await cluster.runCli(["status", "--json"]);
    const nodes = (JSON.parse(status.stdout) as ClusterStatusJson).nodes;
    for (const [i, n] of nodes.entries()) {
      expect(n.reclaimed).toBeGreaterThan(90 * MIB);
      expect(n.reclaimable).toBe(0);
      expect(after[i]).toBeLessThan((before[i] as number) * 1.01 + 1);
    }
  }, 110_000);

  it("keeps chunks a live file shares with a deleted one", async () => {
    const a = await seededBytes("gc-shared", 6 * MIB);
    const b = Buffer.concat([a.subarray(0, 5 * MIB), await seededBytes("gc-other-tail", MIB)]);
    const ua = await files.upload(Readable.from([a]), "gc/a.bin", 3);
    const ub = await files.upload(Readable.from([b]), "gc/b.bin", 4);
    const sa = await files.stat(ua.key);
    const sb = await files.stat(ub.key);
    const bIds = new Set(sb.chunks.map((c) => c.id));
    const shared = sa.chunks.filter((c) => bIds.has(c.id)).map((c) => c.id);
    const onlyA = sa.chunks.filter((c) => !bIds.has(c.id)).map((c) => c.id);
    expect(shared).toHaveLength(5);
    expect(onlyA).toHaveLength(1);
    await files.delete(ua.key);

    const gone = [...onlyA, sa.manifest.id];
    await waitFor(
      "a's own chunk and manifest to be collected on every node",
      async () => {
        await gcNow();
        return NODES.every((i) => gone.every((id) => !existsSync(cluster.chunkPath(i, id))));
      },
      30_000,
    );
    for (const i of NODES) for (const id of shared) expect(existsSync(cluster.chunkPath(i, id))).toBe(true);
    expect(await readSha(ub.key)).toBe(sha256(b));
    expect(await readSha(kept.key)).toBe(kept.sha);
  }, 60_000);

  it("reclaims the chunks of an upload killed with SIGKILL halfway", async () => {
    await gcNow();
    const before = await allChunkBytes();
    const source = join(cluster.dir, "killed.bin");
    await writeSeededFile(source, "gc-killed", 40 * MIB);
    const upload: ChildProcess = spawn(
      process.execPath,
      [
        CLI,
        "upload",
        source,
        "--path",
        "gc/killed.bin",
        "--node",
        cluster.addrs[0] as string,
        "--cluster",
        cluster.clusterDir,
      ],
      { stdio: "ignore" },
    );
    try {
      await waitFor(
        "the upload to be halfway on node 0",
        async () => (await chunkBytes(0)) > (before[0] as number) + 15 * MIB,
        60_000,
      );
    } finally {
      upload.kill("SIGKILL");
    }
    await new Promise((r) => upload.once("exit", r));
    const stranded = await allChunkBytes();
    expect(stranded.every((s, i) => s > (before[i] as number) + 10 * MIB)).toBe(true);
    expect(await cluster.listedPaths(files)).not.toContain("gc/killed.bin");
    await collectBackTo(before);
  }, 100_000);

  it("loses nothing of a slow upload that outlives the grace while passes run", async () => {
    const pieces = 6;
    const data = await seededBytes("gc-slow", pieces * MIB);
    const started = Date.now();
    let passes = 0;
    // The client pauses after each chunk for half the grace while every node runs a pass: the pause is
    // the scenario under test (a slow source), not synchronisation.
    async function* slowSource() {
      for (let i = 0; i < pieces; i++) {
        yield data.subarray(i * MIB, (i + 1) * MIB);
        const report = await gcNow();
        expect(report.nodes.every((n) => n.problem === null)).toBe(true);
        passes++;
        await new Promise((r) => setTimeout(r, GRACE_MS / 2));
      }
    }
    const up = await files.upload(slowSource(), "gc/slow.bin", 5);
    const took = Date.now() - started;
    expect(passes).toBe(pieces);
    expect(took).toBeGreaterThan(2 * GRACE_MS);
    await gcNow();
    expect(await readSha(up.key)).toBe(sha256(data));
  }, 60_000);
});

describe("garbage collection with a manifest out of reach", () => {
  let single: TestCluster;

  beforeAll(async () => {
    // R=1: each chunk and manifest lives on one node only, so killing it makes its manifest unreadable.
    single = await TestCluster.create([{ join: [] }, { join: [0] }, { join: [0, 1] }], {
      replication: 1,
      writeQuorum: 1,
    });
    try {
      for (const i of NODES)
        single.specs[i] = { ...single.specs[i], extraArgs: ["--gc-grace-ms", String(GRACE_MS)] };
      await single.startAll();
      await single.waitForMesh();
    } catch (err) {
      await single.stop();
      throw err;
    }
  }, 60_000);

  afterAll(async () => {
    await single?.stop();
  });

  it("deletes nothing while a live manifest cannot be read, and collects once it can", async () => {
    const client = await single.files(0);
    const live = await client.upload(seededStream("gc-live", 3 * MIB), "gc/live.bin", 6);
    const doomed = await client.upload(seededStream("gc-doomed", 12 * MIB), "gc/doomed.bin", 7);
    const ids = await single.nodeIds();
    const holder = ids.indexOf((await client.stat(live.key)).manifest.nodes[0] as string);
    const doomedChunks = (await client.stat(doomed.key)).chunks.map((c) => c.id);
    await client.delete(doomed.key);
    const others = NODES.filter((i) => i !== holder);
    const orphansOn = (i: number) => doomedChunks.filter((id) => existsSync(single.chunkPath(i, id)));
    const orphans = others.flatMap((i) => orphansOn(i).map((id) => single.chunkPath(i, id)));
    expect(orphans.length).toBeGreaterThan(0);
    await waitFor("the orphans to be older than the grace", async () => {
      const times = await Promise.all(orphans.map(async (p) => (await stat(p)).mtimeMs));
      return times.every((t) => t < Date.now() - GRACE_MS);
    });

    await single.kill(holder);
    const gateway = others[0] as number;
    await waitFor(
      `node ${gateway} to see the manifest's holder down`,
      async () => (await single.peerStates(gateway))[single.addrs[holder] as string] === "down",
      15_000,
    );
    const blocked = await single.runCli(["gc", "--now", "--json"], { gateway });
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toMatch(/did not complete a pass/);
    const report = JSON.parse(blocked.stdout) as GcReportJson;
    expect(report.nodes).toHaveLength(2);
    for (const n of report.nodes) {
      expect(n.reclaimedChunks).toBe(0);
      expect(n.problem).toMatch(/could not be read/);
    }
    for (const p of orphans) expect(existsSync(p)).toBe(true);

    await single.start(holder);
    await single.waitForMesh(15_000);
    await waitFor(
      "the orphans to be collected once every manifest is readable",
      async () => {
        await single.runCli(["gc", "--now"], { gateway });
        return orphans.every((p) => !existsSync(p));
      },
      30_000,
    );
    expect(await readSha(live.key, await single.files(gateway))).toBe(
      await sha256Of(seededStream("gc-live", 3 * MIB)),
    );
  }, 100_000);
});
