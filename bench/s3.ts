// Suite "s3": the S3 gateway (`dmfs s3`) against the CLI in the same run. A real 3-node cluster (R=3,
// W=2, 1 MiB chunks) from dist/ and a real gateway process in front of node-0; the AWS SDK v3 (default
// settings, path-style) PUTs and GETs 1 GiB through it, `dmfs upload` / `dmfs read` move the same amount
// through the same node, and 16 PutObjects of 100 MiB run at once. Beside them the physical limits
// measured in the same run (disk write + fsync, the crypto pool's seal rate, loopback TLS), the gateway's
// peak memory and CPU. bench/README.md explains every figure; docs/performance.md keeps the results.

import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as delay } from "node:timers/promises";
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { deriveKeys } from "../src/crypto/keys.ts";
import { DmfsError } from "../src/errors.ts";
import { CryptoPool } from "../src/workers/crypto-pool.ts";
import { cliRead } from "./cli-read.ts";
import { cliUpload } from "./e2e-cli-upload.ts";
import {
  BenchCluster,
  CHUNK_SIZE,
  DIST_CLI,
  type Placement,
  pollUntil,
  requireBuild,
} from "./e2e-cluster.ts";
import { CpuMeter } from "./e2e-cpu.ts";
import { ExactStreamCheck, streamPieces } from "./e2e-data.ts";
import { diskWriteRate, loopbackTlsRate, warmSealRate } from "./e2e-limits.ts";
import { PeakResidentSampler } from "./e2e-memory.ts";
import type { BenchRecord, BenchSuite } from "./index.ts";
import { type BenchGateway, startBenchGateway } from "./s3-gateway-process.ts";
import { megabytesPerSecond } from "./seal-rate.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const LARGE_BYTES = GiB;
const WARM_UP_BYTES = MiB;
const LIMIT_BYTES = GiB;
const SEAL_LIMIT_BYTES = 256 * MiB;
const CONCURRENT = { count: 16, bytes: 100 * MiB };
const PLACEMENT: Placement = { replication: 3, writeQuorum: 2 };
export const BUCKET = "bench";
/** Pieces the generated bodies are made in, as a file read would deliver them. */
const PIECE_BYTES = MiB;
/** The goals of issue 13. */
const TARGETS = { ofCli: 0.8, gatewayPeakRssMiB: 300 };
/** Attempts per concurrent PutObject: the first, and retries after a 503 SlowDown. */
const MAX_PUT_ATTEMPTS = 8;
const RETRY_BASE_DELAY_MS = 100;
const CLI_START_RUNS = 3;
const ALL_COPIES_TIMEOUT_MS = 300_000;

type Report = (record: BenchRecord) => void;
type Fields = Record<string, string | number | null>;
type Limits = { diskMBps: number; sealMBps: number; tlsMBps: number };
type GatewayCost = { gatewayPeakRssMiB: number | null; gatewayCpuSec: number | null };

export const s3Suite: BenchSuite = {
  columns: [
    { field: "case", title: "case" },
    { field: "bytes", title: "size", format: (bytes) => (bytes === null ? "-" : sizeLabel(Number(bytes))) },
    { field: "MBps", title: "MB/s", format: fixed(1) },
    { field: "limitMBps", title: "limit MB/s", format: fixed(1) },
    { field: "cliMBps", title: "cli MB/s", format: fixed(1) },
    { field: "ratio", title: "s3/cli", format: fixed(2) },
    { field: "slowDowns", title: "503s" },
    { field: "gatewayPeakRssMiB", title: "gw MiB", format: fixed(0) },
    { field: "gatewayCpuSec", title: "gw cpu s", format: fixed(1) },
    { field: "target", title: "target" },
    { field: "met", title: "met" },
    { field: "load1", title: "load1", format: fixed(2) },
  ],
  run: runS3Suite,
};

async function runS3Suite(report: Report): Promise<void> {
  requireBuild();
  const work = await mkdtemp(join(tmpdir(), "dmfs-bench-s3-"));
  note(`working directory ${work} (cluster directory, node roots, the disk test file); removed at the end`);
  note(`${availableParallelism()} cores, Node ${process.version}, load average ${loadAverage()}`);
  let cluster: BenchCluster | undefined;
  let gateway: BenchGateway | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanUp = () => {
    cleaning ??= (async () => {
      await gateway?.stop();
      await cluster?.stop();
      await rm(work, { recursive: true, force: true });
    })();
    return cleaning;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    note(`${signal}: stopping the gateway and the nodes and removing ${work}`);
    void cleanUp().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    cluster = await BenchCluster.create(join(work, "r3"), 3, PLACEMENT);
    const limits = await measureLimits(work, cluster.clusterDir, report);
    for (let i = 0; i < 3; i++) await cluster.startNode();
    await cluster.waitForFullMesh();
    const node0 = cluster.nodes[0]?.addr as string;
    gateway = await startBenchGateway(cluster.clusterDir, node0);
    const bench = new S3Bench(cluster, gateway, limits, report);
    await bench.run();
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await cleanUp();
  }
}

async function measureLimits(work: string, clusterDir: string, report: Report): Promise<Limits> {
  const disk = await diskWriteRate(work, LIMIT_BYTES);
  report(record("limit-disk", { bytes: LIMIT_BYTES, MBps: disk.MBps, cpuSecPerGiB: disk.cpuSecPerGiB }));
  const pool = new CryptoPool();
  let seal: Awaited<ReturnType<typeof warmSealRate>>;
  try {
    seal = await warmSealRate(pool, deriveKeys(randomBytes(32)), CHUNK_SIZE, SEAL_LIMIT_BYTES);
    report(record("limit-seal", { bytes: CHUNK_SIZE, ...seal, threads: pool.threads }));
  } finally {
    await pool.destroy();
  }
  const tls = await loopbackTlsRate(clusterDir, LIMIT_BYTES);
  report(record("limit-tls", { bytes: LIMIT_BYTES, ...tls }));
  return { diskMBps: disk.MBps, sealMBps: seal.MBps, tlsMBps: tls.MBps };
}

class S3Bench {
  readonly #s3: S3Client;
  readonly #node0: string;

  constructor(
    private readonly cluster: BenchCluster,
    private readonly gateway: BenchGateway,
    private readonly limits: Limits,
    private readonly report: Report,
  ) {
    this.#s3 = gateway.client();
    this.#node0 = cluster.nodes[0]?.addr as string;
  }

  async run(): Promise<void> {
    await this.#s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    // Warms the nodes' and the gateway's pools and hot code before anything is timed.
    await this.#putObject("warm-up", WARM_UP_BYTES);
    await this.#getObject("warm-up", WARM_UP_BYTES);
    const warmKey = (await this.#cliUpload("cli-warm-up", WARM_UP_BYTES)).key;
    await this.#cliRead(warmKey, "cli-warm-up", WARM_UP_BYTES);

    const startMs = cliStartMilliseconds();
    this.report(record("cli-start", { ms: startMs, runs: CLI_START_RUNS }));

    const cliUp = await this.#cliUpload("cli-1GiB", LARGE_BYTES);
    const cliUpMBps = megabytesPerSecond(LARGE_BYTES, cliUp.milliseconds);
    await this.#waitForCopies(cliUp.before, LARGE_BYTES, "cli-1GiB");
    this.report(
      record("cli-upload", {
        bytes: LARGE_BYTES,
        MBps: cliUpMBps,
        limitMBps: this.#uploadLimit(),
        peakRssMiB: cliUp.peakRssMiB,
      }),
    );
    const cliReadMs = await this.#cliRead(cliUp.key, "cli-1GiB", LARGE_BYTES);
    const cliReadMBps = megabytesPerSecond(LARGE_BYTES, cliReadMs);
    this.report(
      record("cli-read", { bytes: LARGE_BYTES, MBps: cliReadMBps, limitMBps: this.limits.sealMBps }),
    );

    const put = await this.#measureGateway(async () => {
      const before = await this.#chunkCounts();
      const ms = await this.#putObject("s3-1GiB", LARGE_BYTES);
      return { ms, before };
    });
    await this.#waitForCopies(put.result.before, LARGE_BYTES, "s3-1GiB");
    this.report(
      record("s3-put", {
        bytes: LARGE_BYTES,
        method: "PutObject, stream with ContentLength",
        ...this.#versusCli(
          megabytesPerSecond(LARGE_BYTES, put.result.ms),
          cliUpMBps,
          cliUp.milliseconds,
          startMs,
        ),
        limitMBps: this.#uploadLimit(),
        ...put.cost,
      }),
    );
    const get = await this.#measureGateway(() => this.#getObject("s3-1GiB", LARGE_BYTES));
    this.report(
      record("s3-get", {
        bytes: LARGE_BYTES,
        ...this.#versusCli(megabytesPerSecond(LARGE_BYTES, get.result), cliReadMBps, cliReadMs, startMs),
        limitMBps: this.limits.sealMBps,
        ...get.cost,
      }),
    );

    const upload = await this.#measureGateway(async () => {
      const before = await this.#chunkCounts();
      const ms = await this.#libStorageUpload("s3-upload-1GiB", LARGE_BYTES);
      return { ms, before };
    });
    await this.#waitForCopies(upload.result.before, LARGE_BYTES, "s3-upload-1GiB");
    this.report(
      record("s3-put-multipart", {
        bytes: LARGE_BYTES,
        method: "lib-storage Upload, default parts (5 MiB, 4 at a time)",
        ...this.#versusCli(
          megabytesPerSecond(LARGE_BYTES, upload.result.ms),
          cliUpMBps,
          cliUp.milliseconds,
          startMs,
        ),
        limitMBps: this.#uploadLimit(),
        ...upload.cost,
      }),
    );

    await this.#measureConcurrentPuts();
  }

  /** 16 PutObjects of 100 MiB at once, each retried with a fresh body after a 503 SlowDown. */
  async #measureConcurrentPuts(): Promise<void> {
    const { count, bytes } = CONCURRENT;
    // Retries are counted here: the SDK cannot resend a stream body it has consumed.
    const s3 = this.gateway.client({ maxAttempts: 1 });
    const concurrent = await this.#measureGateway(async () => {
      const before = await this.#chunkCounts();
      const start = performance.now();
      const slowDowns = await Promise.all(
        Array.from({ length: count }, (_, i) => putWithRetries(s3, `concurrent-${i}`, bytes)),
      );
      return { ms: performance.now() - start, before, slowDowns };
    });
    s3.destroy();
    const sizes = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const head = await this.#s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `concurrent-${i}` }));
        return head.ContentLength;
      }),
    );
    if (sizes.some((size) => size !== bytes)) {
      throw new DmfsError("E_IO", `The concurrent PUTs stored objects of ${sizes.join(", ")} bytes.`);
    }
    await this.#waitForCopies(concurrent.result.before, count * bytes, `${count} concurrent objects`);
    const { slowDowns } = concurrent.result;
    const peak = concurrent.cost.gatewayPeakRssMiB;
    this.report(
      record("s3-concurrent-put", {
        bytes,
        objects: count,
        MBps: megabytesPerSecond(count * bytes, concurrent.result.ms),
        limitMBps: this.#uploadLimit(),
        slowDowns: slowDowns.reduce((a, b) => a + b, 0),
        requestsRetried: slowDowns.filter((n) => n > 0).length,
        ...concurrent.cost,
        target: `gw <${TARGETS.gatewayPeakRssMiB} MiB`,
        met: yesNo(peak !== null && peak < TARGETS.gatewayPeakRssMiB),
      }),
    );
  }

  /** Runs `work` with the gateway's CPU metered and its peak resident size sampled (VmHWM reset first). */
  async #measureGateway<T>(work: () => Promise<T>): Promise<{ result: T; cost: GatewayCost }> {
    const processes = new Map([["gateway", this.gateway.pid]]);
    const cpu = new CpuMeter(processes);
    const memory = new PeakResidentSampler(processes);
    cpu.start();
    memory.start();
    let result: T;
    try {
      result = await work();
    } catch (err) {
      memory.stop();
      throw err;
    }
    const gatewayPeakRssMiB = memory.stop().get("gateway") ?? null;
    return { result, cost: { gatewayPeakRssMiB, gatewayCpuSec: cpu.stop().get("gateway") ?? null } };
  }

  /** The S3 rate, the CLI's, their ratio (goal >= 0.8), and the ratio with the command's start-up taken out. */
  #versusCli(MBps: number, cliMBps: number, cliMs: number, startMs: number): Fields {
    const ratio = MBps / cliMBps;
    const cliTransferMBps = megabytesPerSecond(LARGE_BYTES, cliMs - startMs);
    return {
      MBps,
      cliMBps,
      ratio,
      ratioWithoutCliStart: MBps / cliTransferMBps,
      target: `>=${TARGETS.ofCli} x cli`,
      met: yesNo(ratio >= TARGETS.ofCli),
    };
  }

  #uploadLimit(): number {
    return this.limits.diskMBps / PLACEMENT.replication;
  }

  /** PutObject of a generated stream with its ContentLength: one request, streamed, as `dmfs upload` streams. */
  async #putObject(seed: string, bytes: number): Promise<number> {
    const start = performance.now();
    await this.#s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: seed,
        Body: Readable.from(streamPieces(seed, bytes, PIECE_BYTES)),
        ContentLength: bytes,
      }),
    );
    return performance.now() - start;
  }

  async #libStorageUpload(seed: string, bytes: number): Promise<number> {
    const start = performance.now();
    const upload = new Upload({
      client: this.#s3,
      params: { Bucket: BUCKET, Key: seed, Body: Readable.from(streamPieces(seed, bytes, PIECE_BYTES)) },
    });
    await upload.done();
    return performance.now() - start;
  }

  /** GetObject, its body compared byte for byte with the stream as it arrives; milliseconds to the last byte. */
  async #getObject(seed: string, bytes: number): Promise<number> {
    const start = performance.now();
    const got = await this.#s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: seed }));
    if (!(got.Body instanceof Readable)) throw new DmfsError("E_IO", `GetObject ${seed} gave no stream.`);
    await pipeline(got.Body, new ExactStreamCheck(seed, bytes, `GetObject ${seed}`));
    return performance.now() - start;
  }

  async #cliUpload(seed: string, bytes: number) {
    const before = await this.#chunkCounts();
    const result = await cliUpload({
      workDir: this.cluster.dir,
      clusterDir: this.cluster.clusterDir,
      gateway: this.#node0,
      seed,
      bytes,
    });
    return { ...result, before };
  }

  #cliRead(key: string, seed: string, bytes: number): Promise<number> {
    return cliRead({ clusterDir: this.cluster.clusterDir, gateway: this.#node0, key, seed, bytes });
  }

  /** Waits until every node holds the data chunks of `bytes` more: the next case starts on a quiet cluster. */
  async #waitForCopies(before: readonly number[], bytes: number, what: string): Promise<void> {
    const added = Math.ceil(bytes / CHUNK_SIZE);
    await pollUntil(`every copy of ${what}`, ALL_COPIES_TIMEOUT_MS, async () =>
      (await this.#chunkCounts()).every((count, i) => count >= (before[i] ?? 0) + added),
    );
  }

  async #chunkCounts(): Promise<number[]> {
    return Promise.all(this.cluster.nodes.map(async (_, i) => (await this.cluster.status(i)).store.chunks));
  }
}

/** One PutObject of a generated 100 MiB stream; on 503 SlowDown a new attempt with a fresh stream. Returns the SlowDowns. */
export async function putWithRetries(s3: S3Client, seed: string, bytes: number): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      await s3.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: seed,
          Body: Readable.from(streamPieces(seed, bytes, PIECE_BYTES)),
          ContentLength: bytes,
        }),
      );
      return attempt - 1;
    } catch (err) {
      if (!isSlowDown(err) || attempt >= MAX_PUT_ATTEMPTS) throw err;
      // Backing off with jitter, as the SDK's own retry strategy does.
      await delay(RETRY_BASE_DELAY_MS * 2 ** attempt * (0.5 + Math.random()));
    }
  }
}

function isSlowDown(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === "SlowDown" || e.$metadata?.httpStatusCode === 503;
}

/** Median milliseconds of `dmfs --help` from the build: what starting the command costs by itself. */
function cliStartMilliseconds(): number {
  const times: number[] = [];
  for (let run = 0; run < CLI_START_RUNS; run++) {
    const start = performance.now();
    const result = spawnSync(process.execPath, [DIST_CLI, "--help"], { stdio: "ignore" });
    if (result.status !== 0) throw new DmfsError("E_IO", `dmfs --help exited with ${result.status}.`);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}

/** A record of this suite: numbers rounded to 3 decimals, and the load average when it was measured. */
function record(benchCase: string, fields: Fields): BenchRecord {
  const result: BenchRecord = { suite: "s3", case: benchCase };
  for (const [field, value] of Object.entries(fields)) {
    result[field] = typeof value === "number" ? Math.round(value * 1000) / 1000 : value;
  }
  result.load1 = Math.round((loadavg()[0] ?? 0) * 100) / 100;
  return result;
}

function loadAverage(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
}

function sizeLabel(bytes: number): string {
  if (bytes >= GiB && bytes % GiB === 0) return `${bytes / GiB} GiB`;
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  return `${bytes / KiB} KiB`;
}

function fixed(digits: number) {
  return (value: BenchRecord[string]) => (typeof value === "number" ? value.toFixed(digits) : "-");
}

function yesNo(met: boolean): string {
  return met ? "yes" : "no";
}

/** Context for a person reading the run; stderr, so --json output stays one record per line. */
function note(text: string): void {
  process.stderr.write(`s3: ${text}\n`);
}
