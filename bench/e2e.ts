// Suite "e2e": the whole system end to end - real `dmfs node` processes started from dist/, files
// uploaded and read over loopback TLS by a fresh client process each - next to the physical limits
// measured in the same run (disk write + fsync, the crypto pool's seal rate, loopback TLS) and the CPU
// each case cost. bench/README.md explains every figure; docs/performance.md keeps this machine's results.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { FileClient } from "../src/client/file-client.ts";
import { deriveKeys } from "../src/crypto/keys.ts";
import { DmfsError } from "../src/errors.ts";
import { CryptoPool } from "../src/workers/crypto-pool.ts";
import { cliUpload } from "./e2e-cli-upload.ts";
import { runClientProcess } from "./e2e-client.ts";
import { BenchCluster, CHUNK_SIZE, type Placement, pollUntil, requireBuild } from "./e2e-cluster.ts";
import { CpuMeter } from "./e2e-cpu.ts";
import { floorFields, type PrimitiveCosts, readFloor, uploadFloor } from "./e2e-floor.ts";
import {
  blake3Rate,
  diskWriteRate,
  loopbackTlsRate,
  openRate,
  smallFileSyncRate,
  warmSealRate,
} from "./e2e-limits.ts";
import { PeakResidentSampler } from "./e2e-memory.ts";
import { timedOperations, timedRead, timedUpload } from "./e2e-transfers.ts";
import type { BenchRecord, BenchSuite } from "./index.ts";
import { megabytesPerSecond } from "./seal-rate.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const FILE_SIZES = [MiB, 64 * MiB, GiB];
const LIMIT_BYTES = GiB;
const SEAL_LIMIT_BYTES = 256 * MiB;
const SMALL_FILES = { count: 2000, bytes: 4 * KiB, concurrency: 16 };
const REPLICATED: Placement = { replication: 3, writeQuorum: 2 };
const SINGLE: Placement = { replication: 1, writeQuorum: 1 };
/** The goals of the issue, for this two-core machine. */
const TARGETS = {
  replicatedUploadOfLimit: 0.8,
  gatewayReadMBps: 200,
  singleUploadMBps: 250,
  smallUploadsPerSec: 300,
  clientPeakRssMiB: 200,
};
// Copies beyond the write quorum land after the upload returns; how long to wait for them.
const ALL_COPIES_TIMEOUT_MS = 180_000;
const CATALOG_TIMEOUT_MS = 30_000;
/** Below this much CPU time in a case, /proc's 10 ms ticks are too coarse to derive a rate from. */
const MIN_CPU_SECONDS = 0.5;

type Report = (record: BenchRecord) => void;
type Limits = { diskMBps: number; sealMBps: number; costs: PrimitiveCosts };
/** Cases from this size on get CPU-per-GiB fields: smaller ones cost too little CPU to measure it well. */
const FLOOR_MIN_BYTES = 64 * MiB;
/** A cluster as measured: its first `nodes` nodes, with node `gateway` the client's gateway. */
type Setup = {
  name: string;
  cluster: BenchCluster;
  nodes: number;
  gateway: number;
  /** Off: the client sends and fetches every chunk through its gateway alone (default on, as the CLI). */
  directPaths?: boolean;
};

export const e2eSuite: BenchSuite = {
  columns: [
    { field: "case", title: "case" },
    { field: "setup", title: "setup" },
    { field: "bytes", title: "size", format: (bytes) => (bytes === null ? "-" : sizeLabel(Number(bytes))) },
    { field: "MBps", title: "MB/s", format: fixed(1) },
    { field: "opsPerSec", title: "ops/s", format: fixed(0) },
    { field: "limitMBps", title: "limit MB/s", format: fixed(1) },
    { field: "ratio", title: "ratio", format: fixed(2) },
    { field: "p50Ms", title: "p50 ms", format: fixed(1) },
    { field: "p99Ms", title: "p99 ms", format: fixed(1) },
    { field: "cpuBoundMBps", title: "cpu MB/s", format: fixed(1) },
    { field: "cpuSecPerGiB", title: "cpu s/GiB", format: fixed(2) },
    { field: "efficiency", title: "efficiency", format: fixed(2) },
    { field: "peakRssMiB", title: "client MiB", format: fixed(0) },
    { field: "target", title: "target" },
    { field: "met", title: "met" },
    { field: "load1", title: "load1", format: fixed(2) },
  ],
  run: runE2eSuite,
};

async function runE2eSuite(report: Report): Promise<void> {
  requireBuild();
  const work = await mkdtemp(join(tmpdir(), "dmfs-bench-e2e-"));
  note(`working directory ${work} (cluster directories, node roots, the disk test file); removed at the end`);
  note(
    `${availableParallelism()} cores, Node ${process.version}, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  const pool = new CryptoPool();
  const clusters: BenchCluster[] = [];
  let cleaning: Promise<void> | undefined;
  const cleanUp = () => {
    cleaning ??= (async () => {
      await Promise.all(clusters.map((cluster) => cluster.stop()));
      await pool.destroy();
      await rm(work, { recursive: true, force: true });
    })();
    return cleaning;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    note(`${signal}: stopping the nodes and removing ${work}`);
    void cleanUp().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const newCluster = async (name: string, certificates: number, placement: Placement) => {
    const cluster = await BenchCluster.create(join(work, name), certificates, placement);
    clusters.push(cluster);
    return cluster;
  };
  try {
    const replicated = await newCluster("r3", 4, REPLICATED);
    const single = await newCluster("r1", 1, SINGLE);
    const limits = await measureLimits(work, pool, replicated.clusterDir, report);
    await runSingleNode(single, pool, limits, report);
    await runReplicated(replicated, pool, limits, report);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await cleanUp();
  }
}

async function measureLimits(
  work: string,
  pool: CryptoPool,
  clusterDir: string,
  report: Report,
): Promise<Limits> {
  const disk = await diskWriteRate(work, LIMIT_BYTES);
  report(record("limit-disk", { bytes: LIMIT_BYTES, MBps: disk.MBps, cpuSecPerGiB: disk.cpuSecPerGiB }));
  const { count, bytes, concurrency } = SMALL_FILES;
  const syncsPerSec = await smallFileSyncRate(work, count, bytes, concurrency);
  report(record("limit-fsync", { bytes, files: count, concurrency, opsPerSec: syncsPerSec }));
  const keys = deriveKeys(randomBytes(32));
  const seal = await warmSealRate(pool, keys, CHUNK_SIZE, SEAL_LIMIT_BYTES);
  report(record("limit-seal", { bytes: CHUNK_SIZE, ...seal, threads: pool.threads }));
  const open = await openRate(pool, keys, CHUNK_SIZE, SEAL_LIMIT_BYTES);
  report(record("limit-open", { bytes: CHUNK_SIZE, ...open, threads: pool.threads }));
  const blake3 = await blake3Rate(LIMIT_BYTES);
  report(record("limit-blake3", { bytes: LIMIT_BYTES, ...blake3 }));
  const tls = await loopbackTlsRate(clusterDir, LIMIT_BYTES);
  report(record("limit-tls", { bytes: LIMIT_BYTES, ...tls }));
  const costs: PrimitiveCosts = {
    seal: seal.cpuSecPerGiB,
    open: open.cpuSecPerGiB,
    tlsHop: tls.cpuSecPerGiB,
    blake3: blake3.cpuSecPerGiB,
    writeCopy: disk.cpuSecPerGiB,
  };
  note(`CPU seconds per GiB of the primitives: ${describe(new Map(Object.entries(costs)), "s")}`);
  return { diskMBps: disk.MBps, sealMBps: seal.MBps, costs };
}

/** (b) R=1 on one node: uploads and reads through that node. */
async function runSingleNode(cluster: BenchCluster, pool: CryptoPool, limits: Limits, report: Report) {
  await cluster.startNode();
  const setup: Setup = { name: "r1-1node", cluster, nodes: 1, gateway: 0 };
  await warmUp(await cluster.fileClient(0, pool), setup.name);
  for (const size of FILE_SIZES) {
    const file = await measureUpload(setup, size, limits, report);
    await measureRead(setup, file, limits, report);
  }
  await cluster.stop();
}

/**
 * (a) R=3/W=2 on three nodes: uploads and reads through node-0 (which, like every node here, holds every
 * chunk), then the small files; (c) a fourth node joins and the same files are read through it.
 */
async function runReplicated(cluster: BenchCluster, pool: CryptoPool, limits: Limits, report: Report) {
  for (let i = 0; i < 3; i++) await cluster.startNode();
  await cluster.waitForFullMesh();
  const setup: Setup = { name: "r3w2-3node", cluster, nodes: 3, gateway: 0 };
  const files = await cluster.fileClient(0, pool);
  await warmUp(files, setup.name);
  const uploaded: UploadedFile[] = [];
  for (const size of FILE_SIZES) {
    const file = await measureUpload(setup, size, limits, report);
    await measureRead(setup, file, limits, report);
    uploaded.push(file);
  }
  await measureCliUpload(setup, GiB, limits, report);
  await measureSmallFiles(setup, files, report);
  await measureGatewayWithoutCopies(cluster, pool, uploaded, limits, report);
}

// Starts the nodes' pools and compiles their hot code before anything is timed.
async function warmUp(files: FileClient, setup: string): Promise<void> {
  const seed = `${setup}/warm-up`;
  const { key } = await timedUpload(files, seed, MiB);
  await timedRead(files, key, seed, MiB);
}

/**
 * Uploads a generated file from a fresh client process and reports its rate at acknowledgement (W copies)
 * and once every copy landed, the CPU it cost until then, and for 1 GiB the peak memory of every process.
 */
async function measureUpload(
  setup: Setup,
  size: number,
  limits: Limits,
  report: Report,
): Promise<UploadedFile> {
  const { placement } = setup.cluster;
  const seed = `${setup.name}/${sizeLabel(size).replace(" ", "")}`;
  const before = await chunkCounts(setup);
  const nodes = nodeProcesses(setup);
  const nodeCpu = new CpuMeter(nodes);
  const nodeMemory = size >= GiB ? new PeakResidentSampler(nodes) : undefined;
  let start = 0;
  const client = await runClientProcess({ ...transferBase(setup, seed, size), op: "upload" }, () => {
    nodeCpu.start();
    nodeMemory?.start();
    start = performance.now();
  });
  const nodePeaks = nodeMemory?.stop();
  // Every node of these setups is a home of every chunk: all copies are there once each has them all.
  await waitForCopies(setup, before, Math.ceil(size / CHUNK_SIZE) + 1, seed);
  const allCopiesMilliseconds = performance.now() - start;
  const cpuUsed = new Map([["client", client.cpuSeconds], ...nodeCpu.stop()]);

  const MBps = megabytesPerSecond(size, client.milliseconds);
  const limitMBps = limits.diskMBps / placement.replication;
  const goal =
    size < 64 * MiB
      ? undefined
      : placement.replication > 1
        ? TARGETS.replicatedUploadOfLimit * limitMBps
        : TARGETS.singleUploadMBps;
  const peaks = nodePeaks && new Map([["client", client.peakRssMiB], ...nodePeaks]);
  report(
    record("upload", {
      ...setupFields(setup),
      bytes: size,
      MBps,
      allCopiesMBps: megabytesPerSecond(size, allCopiesMilliseconds),
      limitMBps,
      ratio: MBps / limitMBps,
      ...(goal === undefined ? {} : { target: `>=${goal.toFixed(0)} MB/s`, met: yesNo(MBps >= goal) }),
      ...cpuFields(cpuUsed, { bytes: size }),
      ...(size < FLOOR_MIN_BYTES
        ? {}
        : floorFields(totalOf(cpuUsed), size, uploadFloor(limits.costs, placement.replication))),
      ...(peaks === undefined ? {} : memoryFields(peaks, client.rssBeforeMiB)),
    }),
  );
  note(`CPU seconds of the ${sizeLabel(size)} upload (${setup.name}): ${describe(cpuUsed, "s")}`);
  if (peaks !== undefined) {
    note(
      `peak RSS during the ${sizeLabel(size)} upload (${setup.name}): ${describe(peaks, "MiB")}; ` +
        `the client process had ${client.rssBeforeMiB.toFixed(0)} MiB when it started`,
    );
  }
  return { key: client.key, seed, size };
}

/**
 * Uploads a generated file with the `dmfs upload` command itself, for its peak memory over its whole
 * life next to the target; waits until every copy landed so the next case starts on a quiet cluster.
 */
async function measureCliUpload(setup: Setup, size: number, limits: Limits, report: Report): Promise<void> {
  const seed = `${setup.name}/cli-${sizeLabel(size).replace(" ", "")}`;
  const before = await chunkCounts(setup);
  const { clusterDir, gateway } = transferBase(setup, seed, size);
  const result = await cliUpload({ workDir: setup.cluster.dir, clusterDir, gateway, seed, bytes: size });
  await waitForCopies(setup, before, Math.ceil(size / CHUNK_SIZE) + 1, seed);
  const MBps = megabytesPerSecond(size, result.milliseconds);
  const limitMBps = limits.diskMBps / setup.cluster.placement.replication;
  report(
    record("cli-upload", {
      ...setupFields(setup),
      bytes: size,
      MBps,
      limitMBps,
      ratio: MBps / limitMBps,
      peakRssMiB: result.peakRssMiB,
      target: `<${TARGETS.clientPeakRssMiB} MiB`,
      met: yesNo(result.peakRssMiB !== null && result.peakRssMiB < TARGETS.clientPeakRssMiB),
    }),
  );
  note(
    `dmfs upload of ${sizeLabel(size)} (${setup.name}): peak RSS ${result.peakRssMiB?.toFixed(0) ?? "?"} MiB ` +
      "over the command's whole life, start-up included",
  );
}

/** Reads a file from a fresh client process through the setup's gateway, checking every piece. */
async function measureRead(
  setup: Setup,
  file: UploadedFile,
  limits: Limits,
  report: Report,
  after: (MBps: number) => Promise<Fields> = async () => ({}),
): Promise<void> {
  const nodeCpu = new CpuMeter(nodeProcesses(setup));
  const client = await runClientProcess(
    { ...transferBase(setup, file.seed, file.size), op: "read", key: file.key },
    () => nodeCpu.start(),
  );
  const cpuUsed = new Map([["client", client.cpuSeconds], ...nodeCpu.stop()]);
  const MBps = megabytesPerSecond(file.size, client.milliseconds);
  report(
    record("read", {
      ...setupFields(setup),
      bytes: file.size,
      MBps,
      limitMBps: limits.sealMBps,
      ratio: MBps / limits.sealMBps,
      ...cpuFields(cpuUsed, { bytes: file.size }),
      ...(file.size < FLOOR_MIN_BYTES
        ? {}
        : floorFields(totalOf(cpuUsed), file.size, readFloor(limits.costs))),
      ...(await after(MBps)),
    }),
  );
}

async function measureSmallFiles(setup: Setup, files: FileClient, report: Report): Promise<void> {
  const { count, bytes, concurrency } = SMALL_FILES;
  const seedOf = (i: number) => `${setup.name}/small-${i}`;
  const keys: string[] = [];
  const fields = { ...setupFields(setup), bytes, files: count, concurrency };
  const before = await chunkCounts(setup);
  const uploadCpu = new CpuMeter(withThisProcess(setup));
  uploadCpu.start();
  const uploads = await timedOperations(count, concurrency, async (i) => {
    keys[i] = (await timedUpload(files, seedOf(i), bytes)).key;
  });
  // A chunk and a manifest per file; reads start once every copy has landed, as for the large files.
  await waitForCopies(setup, before, 2 * count, `${count} small files`);
  report(
    record("small-upload", {
      ...fields,
      ...uploads,
      target: `>=${TARGETS.smallUploadsPerSec} ops/s`,
      met: yesNo(uploads.opsPerSec >= TARGETS.smallUploadsPerSec),
      ...cpuFields(uploadCpu.stop(), { operations: count }),
    }),
  );
  const readCpu = new CpuMeter(withThisProcess(setup));
  readCpu.start();
  const reads = await timedOperations(count, concurrency, async (i) => {
    await timedRead(files, keys[i] as string, seedOf(i), bytes);
  });
  report(record("small-read", { ...fields, ...reads, ...cpuFields(readCpu.stop(), { operations: count }) }));
}

/**
 * (c) The three nodes sign a layout of themselves, then a fourth node joins as a member outside it: it
 * holds no copy and never takes one, as a node that only serves clients, and the files are read through
 * it, largest first. A read through it alone crosses one more hop (home -> gateway -> client); with direct
 * data paths the client fetches each chunk of a large read from a home instead. The records give the share
 * of chunks the gateway held before and after each read (0 both, unless the layout did not hold).
 */
async function measureGatewayWithoutCopies(
  cluster: BenchCluster,
  pool: CryptoPool,
  uploaded: readonly UploadedFile[],
  limits: Limits,
  report: Report,
): Promise<void> {
  const version = await cluster.signLayout();
  note(`layout version ${version} signed over ${cluster.nodes.length} nodes; the next one joins outside it`);
  await cluster.startNode();
  await cluster.waitForFullMesh();
  const gateway = cluster.nodes.length - 1;
  await cluster.waitForSignedLayout(gateway);
  const gatewayId = (await cluster.status(gateway)).nodeId;
  const setup: Setup = { name: "gw-no-copy", cluster, nodes: cluster.nodes.length, gateway };
  const files = await cluster.fileClient(gateway, pool);
  await warmUp(files, setup.name);
  for (const file of uploaded) {
    await pollUntil(`the catalog entry of ${file.seed} on the new node`, CATALOG_TIMEOUT_MS, async () =>
      Boolean(await files.resolve(file.key)),
    );
  }
  const largestFirst = [...uploaded].sort((a, b) => b.size - a.size);
  const readThrough = async (readSetup: Setup, file: UploadedFile) => {
    const heldBefore = await heldShare(files, file.key, gatewayId);
    await measureRead(readSetup, file, limits, report, async (MBps) => {
      const heldAfter = await heldShare(files, file.key, gatewayId);
      note(
        `gateway ${cluster.nodes[gateway]?.name} held ${percent(heldBefore)} of the chunks of ${file.seed} ` +
          `before the ${readSetup.name} read and ${percent(heldAfter)} after it`,
      );
      const goal = file.size >= GiB ? TARGETS.gatewayReadMBps : undefined;
      return {
        gatewayMissShare: 1 - heldBefore,
        gatewayMissShareMin: 1 - heldAfter,
        ...(goal === undefined ? {} : { target: `>=${goal} MB/s`, met: yesNo(MBps >= goal) }),
      };
    });
  };
  for (const file of largestFirst) await readThrough(setup, file);
  // The largest once more through the gateway alone, as a client that reaches only that node reads it.
  const largest = largestFirst[0];
  if (largest) await readThrough({ ...setup, name: "gw-no-copy-relay", directPaths: false }, largest);
}

/** The share of the chunks of file `key` that node `nodeId` holds now (all chunks here are equally long). */
async function heldShare(files: FileClient, key: string, nodeId: string): Promise<number> {
  const { chunks } = await files.stat(key);
  return chunks.filter((chunk) => chunk.nodes.includes(nodeId)).length / chunks.length;
}

async function waitForCopies(setup: Setup, before: readonly number[], added: number, what: string) {
  await pollUntil(`every copy of ${what} on ${setup.nodes} nodes`, ALL_COPIES_TIMEOUT_MS, async () =>
    (await chunkCounts(setup)).every((count, i) => count >= (before[i] ?? 0) + added),
  );
}

async function chunkCounts(setup: Setup): Promise<number[]> {
  const indexes = Array.from({ length: setup.nodes }, (_, i) => i);
  return Promise.all(indexes.map(async (i) => (await setup.cluster.status(i)).store.chunks));
}

/** The node processes of `setup` by name ("node-0"). */
function nodeProcesses(setup: Setup): Map<string, number> {
  const processes = new Map<string, number>();
  for (const node of setup.cluster.nodes.slice(0, setup.nodes)) {
    if (node.proc.pid !== undefined) processes.set(node.name, node.proc.pid);
  }
  return processes;
}

/** This process as the client (its FileClient and crypto pool), and the node processes of `setup`. */
function withThisProcess(setup: Setup): Map<string, number> {
  return new Map([["client", process.pid], ...nodeProcesses(setup)]);
}

function transferBase(setup: Setup, seed: string, bytes: number) {
  const gateway = setup.cluster.nodes[setup.gateway];
  if (gateway === undefined) throw new DmfsError("E_USAGE", `Setup ${setup.name} has no gateway node.`);
  return {
    clusterDir: setup.cluster.clusterDir,
    gateway: gateway.addr,
    chunkSize: CHUNK_SIZE,
    seed,
    bytes,
    directPaths: setup.directPaths ?? true,
  };
}

type Fields = Record<string, string | number | null>;
type UploadedFile = { key: string; seed: string; size: number };

function setupFields(setup: Setup): Fields {
  const { replication, writeQuorum } = setup.cluster.placement;
  return { setup: setup.name, nodes: setup.nodes, replication, writeQuorum };
}

/**
 * CPU seconds of every process, and what the machine's cores could do at that cost with nothing else
 * running: the rate the figure would reach on an idle machine if CPU were its only limit.
 */
function cpuFields(
  used: ReadonlyMap<string, number | null>,
  work: { bytes?: number; operations?: number },
): Fields {
  const seconds = totalOf(used);
  const cores = availableParallelism();
  if (seconds < MIN_CPU_SECONDS) return { cpuSec: seconds, cpuSecByProcess: describe(used, "s") };
  return {
    cpuSec: seconds,
    cpuSecByProcess: describe(used, "s"),
    ...(work.bytes === undefined ? {} : { cpuBoundMBps: (cores * work.bytes) / 1e6 / seconds }),
    ...(work.operations === undefined ? {} : { cpuBoundOpsPerSec: (cores * work.operations) / seconds }),
  };
}

/** CPU seconds of every process together (a process whose time could not be read counts 0). */
function totalOf(used: ReadonlyMap<string, number | null>): number {
  return [...used.values()].reduce<number>((sum, s) => sum + (s ?? 0), 0);
}

function memoryFields(peaks: ReadonlyMap<string, number | null>, clientRssBefore: number): Fields {
  const clientPeak = peaks.get("client") ?? null;
  const nodePeaks = [...peaks].filter(([name]) => name !== "client").map(([, peak]) => peak ?? 0);
  return {
    peakRssMiB: clientPeak,
    clientRssBeforeMiB: clientRssBefore,
    peakRssTarget: `<${TARGETS.clientPeakRssMiB} MiB`,
    peakRssMet: yesNo(clientPeak !== null && clientPeak < TARGETS.clientPeakRssMiB),
    nodePeakRssMiB: Math.max(...nodePeaks),
    peakRssMiBByProcess: describe(peaks, "MiB"),
  };
}

/** "client 1.23 s, node-0 4.56 s" */
function describe(values: ReadonlyMap<string, number | null>, unit: string): string {
  return [...values]
    .map(([name, value]) => `${name} ${value === null ? "?" : value.toFixed(unit === "s" ? 2 : 0)} ${unit}`)
    .join(", ");
}

/** A record of this suite: numbers rounded to 3 decimals, and the load average when it was measured. */
function record(benchCase: string, fields: Fields): BenchRecord {
  const result: BenchRecord = { suite: "e2e", case: benchCase };
  for (const [field, value] of Object.entries(fields)) {
    result[field] = typeof value === "number" ? Math.round(value * 1000) / 1000 : value;
  }
  result.load1 = Math.round((loadavg()[0] ?? 0) * 100) / 100;
  return result;
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

function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

/** Context for a person reading the run; stderr, so --json output stays one record per line. */
function note(text: string): void {
  process.stderr.write(`e2e: ${text}\n`);
}
