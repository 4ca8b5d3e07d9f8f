// Suite "s3-memory": where the S3 gateway's memory goes, and what its uploads cost, without the rest of
// the s3 suite (no CLI reference, no GETs, no limits): a real 3-node cluster (R=3, W=2, 1 MiB chunks)
// from dist/, a real `dmfs s3` in front of node-0 with bench/memory-probe.mjs loaded, one PutObject of
// 1 GiB, a GetObject of it, and then 16 PutObjects of 100 MiB at once (the s3 suite's memory case). Per case: the rate, the gateway's
// peak RSS and CPU, and the largest heapUsed / external / arrayBuffers the probe saw.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { CreateBucketCommand, GetObjectCommand } from "@aws-sdk/client-s3";
import { BenchCluster, CHUNK_SIZE, pollUntil, requireBuild } from "./e2e-cluster.ts";
import { CpuMeter } from "./e2e-cpu.ts";
import { ExactStreamCheck } from "./e2e-data.ts";
import { PeakResidentSampler } from "./e2e-memory.ts";
import type { BenchRecord, BenchSuite } from "./index.ts";
import { BUCKET, putWithRetries } from "./s3.ts";
import { type BenchGateway, startBenchGateway } from "./s3-gateway-process.ts";
import { megabytesPerSecond } from "./seal-rate.ts";

const MiB = 1024 * 1024;
const LARGE_BYTES = 1024 * MiB;
const _PIECE_BYTES = MiB;
/** Concurrent PUTs: DMFS_BENCH_S3_CONCURRENT overrides the count (e.g. 32 to see the bound hold). */
const CONCURRENT = { count: Number(process.env.DMFS_BENCH_S3_CONCURRENT ?? 16), bytes: 100 * MiB };
const PROBE = resolve(import.meta.dirname, "memory-probe.mjs");
const ALL_COPIES_TIMEOUT_MS = 300_000;

type Report = (record: BenchRecord) => void;

export const s3MemorySuite: BenchSuite = {
  columns: [
    { field: "case", title: "case" },
    { field: "MBps", title: "MB/s", format: fixed(1) },
    { field: "gatewayPeakRssMiB", title: "gw MiB", format: fixed(0) },
    { field: "heapUsedMiB", title: "heap MiB", format: fixed(0) },
    { field: "externalMiB", title: "ext MiB", format: fixed(0) },
    { field: "arrayBuffersMiB", title: "ab MiB", format: fixed(0) },
    { field: "gatewayCpuSec", title: "gw cpu s", format: fixed(1) },
    { field: "slowDowns", title: "503s" },
    { field: "load1", title: "load1", format: fixed(2) },
  ],
  run: runS3MemorySuite,
};

async function runS3MemorySuite(report: Report): Promise<void> {
  requireBuild();
  const work = await mkdtemp(join(tmpdir(), "dmfs-bench-s3-memory-"));
  process.stderr.write(`s3-memory: working directory ${work}; removed at the end\n`);
  const probeFile = join(work, "probe.jsonl");
  let cluster: BenchCluster | undefined;
  let gateway: BenchGateway | undefined;
  try {
    cluster = await BenchCluster.create(join(work, "r3"), 3, { replication: 3, writeQuorum: 2 });
    for (let i = 0; i < 3; i++) await cluster.startNode();
    await cluster.waitForFullMesh();
    gateway = await startBenchGateway(cluster.clusterDir, cluster.nodes[0]?.addr as string, {
      nodeArgs: ["--import", PROBE],
      env: { DMFS_MEMORY_PROBE: probeFile },
    });
    const bench = { cluster, gateway, probeFile, report };
    const s3 = gateway.client({ maxAttempts: 1 });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await putWithRetries(s3, "warm-up", MiB);
    await measure(bench, "s3-put-1GiB", LARGE_BYTES, () => putWithRetries(s3, "large", LARGE_BYTES));
    // A GET before the concurrent PUTs, as in the s3 suite: what a read leaves resident counts in their peak.
    await measure(
      bench,
      "s3-get-1GiB",
      LARGE_BYTES,
      async () => {
        const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "large" }));
        await pipeline(got.Body as Readable, new ExactStreamCheck("large", LARGE_BYTES, "GetObject large"));
        return 0;
      },
      { stores: false },
    );
    await measure(
      bench,
      `s3-concurrent-put-${CONCURRENT.count}`,
      CONCURRENT.count * CONCURRENT.bytes,
      async () => {
        const retries = await Promise.all(
          Array.from({ length: CONCURRENT.count }, (_, i) =>
            putWithRetries(s3, `concurrent-${i}`, CONCURRENT.bytes),
          ),
        );
        return retries.reduce((a, b) => a + b, 0);
      },
    );
    s3.destroy();
  } finally {
    await gateway?.stop();
    await cluster?.stop();
    await rm(work, { recursive: true, force: true });
  }
}

async function measure(
  bench: { cluster: BenchCluster; gateway: BenchGateway; probeFile: string; report: Report },
  name: string,
  bytes: number,
  work: () => Promise<number>,
  { stores } = { stores: true },
): Promise<void> {
  const before = await chunkCounts(bench.cluster);
  const processes = new Map([["gateway", bench.gateway.pid]]);
  const cpu = new CpuMeter(processes);
  const memory = new PeakResidentSampler(processes);
  await writeFile(bench.probeFile, "");
  cpu.start();
  memory.start();
  const start = performance.now();
  const slowDowns = await work();
  const ms = performance.now() - start;
  const peak = memory.stop().get("gateway") ?? null;
  const cpuSec = cpu.stop().get("gateway") ?? null;
  const samples = (await readFile(bench.probeFile, "utf8"))
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as NodeJS.MemoryUsage);
  const most = (field: keyof NodeJS.MemoryUsage) =>
    Math.round(Math.max(0, ...samples.map((s) => s[field])) / MiB);
  // Each case starts on a quiet cluster: every copy of the last one stored.
  const added = stores ? Math.ceil(bytes / CHUNK_SIZE) : 0;
  await pollUntil(`every copy of ${name}`, ALL_COPIES_TIMEOUT_MS, async () =>
    (await chunkCounts(bench.cluster)).every((count, i) => count >= (before[i] ?? 0) + added),
  );
  bench.report({
    suite: "s3-memory",
    case: name,
    bytes,
    MBps: Math.round(megabytesPerSecond(bytes, ms) * 10) / 10,
    gatewayPeakRssMiB: peak,
    heapUsedMiB: most("heapUsed"),
    heapTotalMiB: most("heapTotal"),
    externalMiB: most("external"),
    arrayBuffersMiB: most("arrayBuffers"),
    gatewayCpuSec: cpuSec,
    slowDowns,
    load1: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  });
}

function chunkCounts(cluster: BenchCluster): Promise<number[]> {
  return Promise.all(cluster.nodes.map(async (_, i) => (await cluster.status(i)).store.chunks));
}

function fixed(digits: number) {
  return (value: BenchRecord[string]) => (typeof value === "number" ? value.toFixed(digits) : "-");
}
