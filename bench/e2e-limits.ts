// The physical limits the end-to-end figures are compared with, measured in the same run on the same
// machine: sequential write + fsync and small-file fsyncs of the disk under the nodes' roots, the crypto
// pool's seal and open rates, BLAKE3, and TLS between two processes over loopback with the options every
// DMFS link uses. Each large one also gives its CPU seconds per GiB, the parts of a case's CPU floor.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, open, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { connect } from "node:tls";
import { loadIdentity } from "../src/cluster/cluster-dir.ts";
import { loadBulkBlake3 } from "../src/crypto/blake3.ts";
import type { ChunkKeys } from "../src/crypto/chunk-format.ts";
import { DmfsError } from "../src/errors.ts";
import { clientOptions } from "../src/protocol/tls.ts";
import type { CryptoPool } from "../src/workers/crypto-pool.ts";
import { stopProcess } from "./e2e-cluster.ts";
import { cpuSeconds } from "./e2e-cpu.ts";
import { perGiB } from "./e2e-floor.ts";
import { IN_FLIGHT_PER_THREAD, megabytesPerSecond, sealRate } from "./seal-rate.ts";

const MiB = 1024 * 1024;
const TLS_SINK = resolve(import.meta.dirname, "e2e-tls-sink.ts");
const SINK_START_TIMEOUT_MS = 20_000;

/** A rate and what it cost: CPU seconds per GiB, every thread of the processes doing the work. */
export type CostedRate = { MBps: number; cpuSecPerGiB: number };

/** CPU seconds (user + system, every thread) this process has used, to the microsecond. */
function ownCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/**
 * Writes `bytes` in 1 MiB blocks to a new file in `dir`, fsyncs it and deletes it: MB/s including the fsync,
 * and this process's CPU for it (the kernel's own writeback threads are not counted, nor are they for nodes).
 */
export async function diskWriteRate(dir: string, bytes: number): Promise<CostedRate> {
  const path = join(dir, `disk-limit-${randomBytes(4).toString("hex")}.tmp`);
  const block = randomBytes(MiB);
  try {
    const cpuBefore = ownCpuSeconds();
    const start = performance.now();
    const file = await open(path, "wx");
    try {
      for (let written = 0; written < bytes; written += MiB) {
        await file.write(block, 0, Math.min(MiB, bytes - written));
      }
      await file.sync();
    } finally {
      await file.close();
    }
    const MBps = megabytesPerSecond(bytes, performance.now() - start);
    return { MBps, cpuSecPerGiB: perGiB(ownCpuSeconds() - cpuBefore, bytes) };
  } finally {
    await rm(path, { force: true });
  }
}

/**
 * Small files made durable per second in `dir`: `count` new files of `bytes` each, written, fsynced and
 * closed, `concurrency` at a time (then deleted) - the disk's side of a small-file upload.
 */
export async function smallFileSyncRate(
  dir: string,
  count: number,
  bytes: number,
  concurrency: number,
): Promise<number> {
  const files = await mkdtemp(join(dir, "fsync-limit-"));
  const content = randomBytes(bytes);
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const file = await open(join(files, String(next++)), "wx");
      try {
        await file.writeFile(content);
        await file.sync();
      } finally {
        await file.close();
      }
    }
  };
  try {
    const start = performance.now();
    await Promise.all(Array.from({ length: concurrency }, lane));
    return count / ((performance.now() - start) / 1000);
  } finally {
    await rm(files, { recursive: true, force: true });
  }
}

/**
 * The pool's seal rate with its code warm (every thread started and compiled before the timing), and its
 * CPU per GiB: this process's, which the pool's threads belong to; nothing else runs in it meanwhile.
 */
export async function warmSealRate(
  pool: CryptoPool,
  keys: ChunkKeys,
  chunkBytes: number,
  bytes: number,
): Promise<CostedRate> {
  await Promise.all(Array.from({ length: pool.threads * 8 }, () => pool.seal(keys, randomBytes(chunkBytes))));
  const cpuBefore = ownCpuSeconds();
  const MBps = await sealRate(pool, keys, chunkBytes, bytes);
  const sealed = Math.ceil(bytes / chunkBytes) * chunkBytes;
  return { MBps, cpuSecPerGiB: perGiB(ownCpuSeconds() - cpuBefore, sealed) };
}

/**
 * The pool's open rate (verify the id, decrypt, the keyed hash a read feeds its file key with) over copies
 * of a few sealed chunks, every thread busy, and its CPU per GiB of plaintext. Each task gets a fresh copy,
 * as a read gets fresh bytes from the network; making it is part of the cost.
 */
export async function openRate(
  pool: CryptoPool,
  keys: ChunkKeys,
  chunkBytes: number,
  bytes: number,
): Promise<CostedRate> {
  const sealed = await Promise.all(
    Array.from({ length: pool.threads * IN_FLIGHT_PER_THREAD }, () =>
      pool.seal(keys, randomBytes(chunkBytes)),
    ),
  );
  const chunks = Math.ceil(bytes / chunkBytes);
  let submitted = 0;
  const lane = async () => {
    while (submitted < chunks) {
      const chunk = sealed[submitted++ % sealed.length];
      if (chunk === undefined) return;
      await pool.open(keys, Buffer.from(chunk.stored), chunk.chunkId);
    }
  };
  const cpuBefore = ownCpuSeconds();
  const start = performance.now();
  await Promise.all(Array.from({ length: sealed.length }, lane));
  const MBps = megabytesPerSecond(chunks * chunkBytes, performance.now() - start);
  return { MBps, cpuSecPerGiB: perGiB(ownCpuSeconds() - cpuBefore, chunks * chunkBytes) };
}

/** One unkeyed BLAKE3 pass with the bulk backend (native where it loads) on this thread, in 1 MiB blocks. */
export async function blake3Rate(bytes: number): Promise<CostedRate & { backend: string }> {
  const blake3 = await loadBulkBlake3();
  const block = randomBytes(MiB);
  blake3.hash(block);
  const cpuBefore = ownCpuSeconds();
  const start = performance.now();
  for (let hashed = 0; hashed < bytes; hashed += MiB) blake3.hash(block);
  const MBps = megabytesPerSecond(bytes, performance.now() - start);
  return { MBps, cpuSecPerGiB: perGiB(ownCpuSeconds() - cpuBefore, bytes), backend: blake3.backend };
}

/**
 * Sends `bytes` in 1 MiB writes over mutual TLS to a child process that discards them (bench/e2e-tls-sink.ts)
 * and waits for its count of what arrived: MB/s from the handshake's end to that count, the cipher, and the
 * CPU per GiB of both ends together (this process and the sink), which is one hop's cost.
 */
export async function loopbackTlsRate(
  clusterDir: string,
  bytes: number,
): Promise<CostedRate & { cipher: string }> {
  const sink = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), TLS_SINK, clusterDir], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    const port = await sinkPort(sink.stdout, sink);
    const identity = await loadIdentity(clusterDir, "client");
    const socket = connect({ ...clientOptions(identity), host: "127.0.0.1", port });
    await once(socket, "secureConnect");
    const cipher = socket.getCipher().standardName;
    const replies: Buffer[] = [];
    socket.on("data", (data: Buffer) => replies.push(data));
    const answered = once(socket, "end");
    const block = randomBytes(MiB);
    const sinkCpuBefore = sink.pid === undefined ? null : cpuSeconds(sink.pid);
    const cpuBefore = ownCpuSeconds();
    const start = performance.now();
    for (let sent = 0; sent < bytes; sent += MiB) {
      if (!socket.write(block.subarray(0, Math.min(MiB, bytes - sent)))) await once(socket, "drain");
    }
    socket.end();
    await answered;
    const milliseconds = performance.now() - start;
    const ownCpu = ownCpuSeconds() - cpuBefore;
    const sinkCpuAfter = sink.pid === undefined ? null : cpuSeconds(sink.pid);
    socket.destroy();
    const received = Buffer.concat(replies);
    if (received.length !== 8 || received.readBigUInt64BE() !== BigInt(bytes)) {
      throw new DmfsError("E_IO", `The TLS sink did not receive the ${bytes} bytes sent to it.`);
    }
    if (sinkCpuBefore === null || sinkCpuAfter === null) {
      throw new DmfsError("E_IO", "The TLS sink's CPU time could not be read from /proc.");
    }
    const cpuSecPerGiB = perGiB(ownCpu + sinkCpuAfter - sinkCpuBefore, bytes);
    return { MBps: megabytesPerSecond(bytes, milliseconds), cpuSecPerGiB, cipher };
  } finally {
    await stopProcess(sink);
  }
}

async function sinkPort(
  stdout: NodeJS.ReadableStream | null,
  sink: ReturnType<typeof spawn>,
): Promise<number> {
  if (stdout === null) throw new DmfsError("E_IO", "The TLS sink has no output to read its port from.");
  const lines = createInterface({ input: stdout });
  const timer = setTimeout(() => sink.kill("SIGKILL"), SINK_START_TIMEOUT_MS);
  try {
    for await (const line of lines) {
      const port = (JSON.parse(line) as { port?: unknown }).port;
      if (typeof port === "number") return port;
    }
  } finally {
    clearTimeout(timer);
    lines.close();
  }
  throw new DmfsError("E_UNREACHABLE", "The TLS sink (bench/e2e-tls-sink.ts) ended before it listened.");
}
