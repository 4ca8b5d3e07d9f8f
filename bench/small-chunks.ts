// Suite "small-chunks": what each chunk costs apart from its bytes. A generated file is uploaded and read
// back at 64 KiB chunks through a 3-node R=3 W=2 cluster (dist/, a fresh client process each way, direct
// paths on as the CLI), as the e2e suite does at 1 MiB. Each transfer runs twice, alternating: with the
// client's window (bytes in flight, src/client/chunk-window.ts) and with the fixed window of 8 chunks up,
// 4 down that clients had before, so the two compare under the same load. Reports MB/s, chunks per second
// and the CPU seconds of the client and of the nodes together.
// DMFS_BENCH_SMALL_CHUNKS_MIB sets the file size (default 256); DMFS_BENCH_NODE_ARGS passes Node options
// (such as --cpu-prof) to the nodes.
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { type ClientTransfer, runClientProcess } from "./e2e-client.ts";
import { BenchCluster } from "./e2e-cluster.ts";
import { CpuMeter } from "./e2e-cpu.ts";
import type { BenchRecord, BenchSuite } from "./index.ts";
import { megabytesPerSecond } from "./seal-rate.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const CHUNK = 64 * KiB;
const DEFAULT_MIB = 256;
/** The windows every client had before they were sized in bytes: 8 chunks up, 4 down. */
const FIXED_WINDOWS = { upload: 8, read: 4 };

const fixed = (digits: number) => (value: BenchRecord[string]) =>
  typeof value === "number" ? value.toFixed(digits) : "-";

export const smallChunksSuite: BenchSuite = {
  columns: [
    { field: "case", title: "case" },
    { field: "window", title: "window" },
    { field: "MiB", title: "MiB" },
    { field: "seconds", title: "seconds", format: fixed(1) },
    { field: "MBps", title: "MB/s", format: fixed(1) },
    { field: "chunksPerSec", title: "chunks/s", format: fixed(0) },
    { field: "cpuClient", title: "cpu client", format: fixed(1) },
    { field: "cpuNodes", title: "cpu nodes", format: fixed(1) },
    { field: "cpuMsPerChunk", title: "cpu ms/chunk", format: fixed(2) },
    { field: "load1", title: "load1", format: fixed(2) },
  ],
  run: runSmallChunks,
};

async function runSmallChunks(report: (record: BenchRecord) => void): Promise<void> {
  const mib = Number(process.env.DMFS_BENCH_SMALL_CHUNKS_MIB ?? DEFAULT_MIB);
  const bytes = mib * MiB;
  const work = await mkdtemp(join(tmpdir(), "dmfs-bench-small-chunks-"));
  const cluster = await BenchCluster.create(work, 3, { replication: 3, writeQuorum: 2 });
  try {
    for (let i = 0; i < 3; i++) await cluster.startNode();
    await cluster.waitForFullMesh();
    const gateway = cluster.nodes[0]?.addr as string;
    const nodes = new Map(cluster.nodes.map((node) => [node.name, node.proc.pid as number]));
    const measure = async (transfer: ClientTransfer) => {
      const nodeCpu = new CpuMeter(nodes);
      const load1 = loadavg()[0] as number;
      const client = await runClientProcess(transfer, () => nodeCpu.start());
      const nodeSeconds = [...nodeCpu.stop().values()].reduce<number>((sum, s) => sum + (s ?? 0), 0);
      const chunks = bytes / CHUNK;
      report({
        suite: "small-chunks",
        case: transfer.op,
        window: transfer.window === undefined ? "bytes" : `${transfer.window} chunks`,
        MiB: mib,
        seconds: client.milliseconds / 1000,
        MBps: megabytesPerSecond(bytes, client.milliseconds),
        chunksPerSec: chunks / (client.milliseconds / 1000),
        cpuClient: client.cpuSeconds,
        cpuNodes: nodeSeconds,
        cpuMsPerChunk: ((client.cpuSeconds + nodeSeconds) * 1000) / chunks,
        load1,
      });
      return client.key;
    };
    for (const windows of [FIXED_WINDOWS, undefined]) {
      const seed = `small-chunks-${windows === undefined ? "bytes" : "fixed"}`;
      const base = {
        clusterDir: cluster.clusterDir,
        gateway,
        chunkSize: CHUNK,
        seed,
        bytes,
        directPaths: true,
      };
      const key = await measure({ ...base, op: "upload", window: windows?.upload });
      await measure({ ...base, op: "read", key, window: windows?.read });
    }
  } finally {
    await cluster.stop();
    await rm(work, { recursive: true, force: true });
  }
}
