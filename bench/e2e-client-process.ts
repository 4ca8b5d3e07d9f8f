// Child process of the end-to-end suite: one timed upload or read in a process of its own, so the memory
// and CPU measured are that transfer's alone, made with the client library as built in dist/ (the code
// `dmfs upload` and `dmfs read` run). One JSON line each way on stdio: it connects and warms its crypto
// pool, prints {"ready":true}, waits for a line on stdin, runs the transfer and prints its ClientResult.
// Usage: node --import tsx bench/e2e-client-process.ts '<ClientTransfer as JSON>'
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { DmfsError } from "../src/errors.ts";
import type { ClientResult, ClientTransfer } from "./e2e-client.ts";
import { resetPeakResident, residentBytes } from "./e2e-memory.ts";
import { timedRead, timedUpload } from "./e2e-transfers.ts";

const MiB = 1024 * 1024;

// The built modules have the source's shape; importing them by computed URL keeps the source's types.
const built = (path: string) => pathToFileURL(resolve(import.meta.dirname, "../dist", path)).href;
const { FileClient } = (await import(
  built("client/file-client.js")
)) as typeof import("../src/client/file-client.ts");
const { NodeClient } = (await import(
  built("client/node-client.js")
)) as typeof import("../src/client/node-client.ts");
const { CryptoPool } = (await import(
  built("workers/crypto-pool.js")
)) as typeof import("../src/workers/crypto-pool.ts");
const clusterDirModule = (await import(
  built("cluster/cluster-dir.js")
)) as typeof import("../src/cluster/cluster-dir.ts");
const keysModule = (await import(built("crypto/keys.js"))) as typeof import("../src/crypto/keys.ts");
const { clientPoolThreads, directPathsFor } = (await import(
  built("cli/file-session.js")
)) as typeof import("../src/cli/file-session.ts");
const { tuneGarbageCollection } = (await import(
  built("cli/garbage-collection.js")
)) as typeof import("../src/cli/garbage-collection.ts");

// As `dmfs upload` and `dmfs read` run: the same garbage collection and the same number of pool threads.
tuneGarbageCollection();

const transfer = JSON.parse(process.argv[2] ?? "null") as ClientTransfer | null;
if (transfer === null) throw new DmfsError("E_USAGE", "e2e-client-process needs the transfer as JSON.");

const identity = await clusterDirModule.loadIdentity(transfer.clusterDir, "client");
const keys = keysModule.deriveKeys(
  await keysModule.loadDataKey(clusterDirModule.loadDataKeyPath(transfer.clusterDir)),
);
const gateway = await NodeClient.connect([transfer.gateway], { identity, chunkSize: transfer.chunkSize });
const pool = new CryptoPool({ threads: clientPoolThreads() });
let files: InstanceType<typeof FileClient> | undefined;
try {
  // Starts every thread and compiles its hashing code, without touching the cluster.
  await Promise.all(Array.from({ length: pool.threads * 2 }, () => pool.seal(keys, randomBytes(MiB))));
  files = new FileClient(gateway, pool, keys, transfer.chunkSize, {
    ...(transfer.directPaths ? { directPaths: directPathsFor(identity, transfer.chunkSize) } : {}),
    ...(transfer.window === undefined ? {} : { window: transfer.window }),
  });
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  // stdin ends without a line when the bench process went away: then there is nobody to measure for.
  const go = await Promise.race([
    once(process.stdin, "data").then(() => true),
    once(process.stdin, "end").then(() => false),
  ]);
  process.stdin.pause();
  if (!go) throw new DmfsError("E_CONNECTION_CLOSED", "The bench process went away before the transfer.");
  resetPeakResident(process.pid);
  const rssBefore = process.memoryUsage.rss();
  const cpuBefore = process.cpuUsage();
  const { key, milliseconds } =
    transfer.op === "upload"
      ? await timedUpload(files, transfer.seed, transfer.bytes)
      : {
          key: transfer.key,
          milliseconds: await timedRead(files, transfer.key, transfer.seed, transfer.bytes),
        };
  const cpu = process.cpuUsage(cpuBefore);
  const peak = residentBytes(process.pid)?.hwm;
  const result: ClientResult = {
    key,
    milliseconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    rssBeforeMiB: rssBefore / MiB,
    peakRssMiB: peak === undefined ? null : peak / MiB,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  files?.close(); // its direct connections would keep this process alive
  gateway.close();
  await pool.destroy();
}
