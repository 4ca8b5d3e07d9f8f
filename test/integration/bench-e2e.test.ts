// The end-to-end benchmark's own machinery against the real thing: node processes from dist/, a file
// uploaded and read back through them, and the limits it measures, all at small sizes.
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runClientProcess } from "../../bench/e2e-client.ts";
import { BenchCluster, requireBuild } from "../../bench/e2e-cluster.ts";
import {
  blake3Rate,
  diskWriteRate,
  loopbackTlsRate,
  openRate,
  warmSealRate as sealRate,
  smallFileSyncRate,
} from "../../bench/e2e-limits.ts";
import { timedRead, timedUpload } from "../../bench/e2e-transfers.ts";
import { deriveKeys } from "../../src/crypto/keys.ts";
import { DmfsError } from "../../src/errors.ts";
import { CryptoPool } from "../../src/workers/crypto-pool.ts";

const MiB = 1024 * 1024;
let work: string;
let pool: CryptoPool;
let cluster: BenchCluster;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "dmfs-bench-test-"));
  pool = new CryptoPool({ threads: 1 });
  // Three certificates: two nodes from the start, a third that joins outside a signed layout.
  cluster = await BenchCluster.create(join(work, "c"), 3, { replication: 2, writeQuorum: 2 });
});

afterAll(async () => {
  await cluster?.stop();
  await pool?.destroy();
  await rm(work, { recursive: true, force: true });
});

describe("the end-to-end benchmark", () => {
  it("uploads through real nodes and reads back exactly what it generated", async () => {
    await cluster.startNode();
    await cluster.startNode();
    await cluster.waitForFullMesh();
    const files = await cluster.fileClient(1, pool);
    const size = 3 * MiB + 12_345;
    const { key, milliseconds } = await timedUpload(files, "bench-test/file", size);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(milliseconds).toBeGreaterThan(0);
    expect(await timedRead(files, key, "bench-test/file", size)).toBeGreaterThan(0);
    const wrongSeed = await timedRead(files, key, "bench-test/other", size).catch((err: unknown) => err);
    expect(wrongSeed).toBeInstanceOf(DmfsError);
    expect((wrongSeed as DmfsError).code).toBe("E_CHUNK_CORRUPT");
    const statuses = await Promise.all([cluster.status(0), cluster.status(1)]);
    // Four data chunks and a manifest on each of the two homes.
    expect(statuses.map((s) => s.store.chunks)).toEqual([5, 5]);
  });

  it("runs an upload and a read in client processes of their own, from the build", async () => {
    const base = {
      clusterDir: cluster.clusterDir,
      gateway: cluster.nodes[0]?.addr as string,
      chunkSize: MiB,
      seed: "bench-test/child",
      bytes: 2 * MiB + 1,
      directPaths: true,
    };
    const started: number[] = [];
    const upload = await runClientProcess({ ...base, op: "upload" }, (pid) => started.push(pid));
    expect(upload.key).toMatch(/^[0-9a-f]{64}$/);
    expect(upload.peakRssMiB).toBeGreaterThanOrEqual(upload.rssBeforeMiB - 1);
    expect(upload.cpuSeconds).toBeGreaterThanOrEqual(0);
    const read = await runClientProcess({ ...base, op: "read", key: upload.key }, (pid) => started.push(pid));
    expect(read.key).toBe(upload.key);
    expect(started).toHaveLength(2);
    expect(started[0]).not.toBe(process.pid);
    const wrong = await runClientProcess(
      { ...base, op: "read", key: upload.key, seed: "bench-test/other" },
      () => {},
    ).catch((err: unknown) => err);
    expect((wrong as DmfsError).message).toContain("differ from the ones uploaded");
  });

  it("signs a layout of the running nodes, so a node started afterwards owns no data", async () => {
    expect(await cluster.signLayout()).toBeGreaterThanOrEqual(1);
    const before = await Promise.all([cluster.status(0), cluster.status(1)]);
    await cluster.startNode();
    await cluster.waitForFullMesh();
    await cluster.waitForSignedLayout(2);
    const files = await cluster.fileClient(2, pool);
    await timedUpload(files, "bench-test/outside", 4 * MiB);
    const after = await Promise.all([cluster.status(0), cluster.status(1), cluster.status(2)]);
    // Four data chunks and a manifest on both homes, none on the node outside the layout.
    expect(after.map((s) => s.store.chunks)).toEqual([
      before[0]?.store.chunks + 5,
      before[1]?.store.chunks + 5,
      0,
    ]);
  });

  it("stops every node it started", async () => {
    const procs = cluster.nodes.map((n) => n.proc);
    await cluster.stop();
    expect(procs.every((p) => p.exitCode !== null || p.signalCode !== null)).toBe(true);
  });

  it("measures the disk, large and small writes, and leaves no test file behind", async () => {
    const dir = join(work, "disk");
    await mkdir(dir);
    const disk = await diskWriteRate(dir, 8 * MiB + 5);
    expect(disk.MBps).toBeGreaterThan(0);
    expect(disk.cpuSecPerGiB).toBeGreaterThan(0);
    expect(await smallFileSyncRate(dir, 50, 4096, 4)).toBeGreaterThan(0);
    expect(await readdir(dir)).toEqual([]);
  });

  it("measures the seal and open rates of the pool and one BLAKE3 pass, each with its CPU per GiB", async () => {
    const keys = deriveKeys(randomBytes(32));
    for (const rate of [
      await sealRate(pool, keys, MiB, 8 * MiB),
      await openRate(pool, keys, MiB, 8 * MiB),
      await blake3Rate(32 * MiB),
    ]) {
      expect(rate.MBps).toBeGreaterThan(0);
      expect(rate.cpuSecPerGiB).toBeGreaterThan(0);
    }
  });

  it("measures TLS between two processes with the cluster's certificates", async () => {
    const { MBps, cpuSecPerGiB, cipher } = await loopbackTlsRate(cluster.clusterDir, 16 * MiB);
    expect(MBps).toBeGreaterThan(0);
    // Both ends' CPU: the sink's is read from /proc, so a sink that decrypted nothing would show here.
    expect(cpuSecPerGiB).toBeGreaterThan(0);
    expect(cipher).toMatch(/^TLS_/);
  });

  it("refuses to run without the build, naming the file and the command that makes it", () => {
    const missing = join(work, "dist/cli/main.js");
    expect(() => requireBuild(missing)).toThrow(
      expect.objectContaining({
        code: "E_NOT_FOUND",
        message: expect.stringContaining("npx tsc -p tsconfig.build.json"),
      }),
    );
    expect(() => requireBuild(missing)).toThrow(missing);
  });
});
