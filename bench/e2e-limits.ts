// The physical limits the end-to-end figures are compared with, measured in the same run on the same
// machine: sequential write + fsync and small-file fsyncs of the disk under the nodes' roots, the crypto
// pool's seal rate, and TLS between two processes over loopback with the options every DMFS link uses.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, open, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { connect } from "node:tls";
import { loadIdentity } from "../src/cluster/cluster-dir.ts";
import type { ChunkKeys } from "../src/crypto/chunk-format.ts";
import { DmfsError } from "../src/errors.ts";
import { clientOptions } from "../src/protocol/tls.ts";
import type { CryptoPool } from "../src/workers/crypto-pool.ts";
import { stopProcess } from "./e2e-cluster.ts";
import { megabytesPerSecond, sealRate } from "./seal-rate.ts";

const MiB = 1024 * 1024;
const TLS_SINK = resolve(import.meta.dirname, "e2e-tls-sink.ts");
const SINK_START_TIMEOUT_MS = 20_000;

/** Writes `bytes` in 1 MiB blocks to a new file in `dir`, fsyncs it and deletes it: MB/s including the fsync. */
export async function diskWriteRate(dir: string, bytes: number): Promise<number> {
  const path = join(dir, `disk-limit-${randomBytes(4).toString("hex")}.tmp`);
  const block = randomBytes(MiB);
  try {
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
    return megabytesPerSecond(bytes, performance.now() - start);
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

/** The pool's seal rate with its code warm: every thread started and compiled before the timing. */
export async function warmSealRate(
  pool: CryptoPool,
  keys: ChunkKeys,
  chunkBytes: number,
  bytes: number,
): Promise<number> {
  await Promise.all(Array.from({ length: pool.threads * 8 }, () => pool.seal(keys, randomBytes(chunkBytes))));
  return sealRate(pool, keys, chunkBytes, bytes);
}

/**
 * Sends `bytes` in 1 MiB writes over mutual TLS to a child process that discards them (bench/e2e-tls-sink.ts)
 * and waits for its count of what arrived: MB/s from the handshake's end to that count, and the cipher.
 */
export async function loopbackTlsRate(
  clusterDir: string,
  bytes: number,
): Promise<{ MBps: number; cipher: string }> {
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
    const start = performance.now();
    for (let sent = 0; sent < bytes; sent += MiB) {
      if (!socket.write(block.subarray(0, Math.min(MiB, bytes - sent)))) await once(socket, "drain");
    }
    socket.end();
    await answered;
    const milliseconds = performance.now() - start;
    socket.destroy();
    const received = Buffer.concat(replies);
    if (received.length !== 8 || received.readBigUInt64BE() !== BigInt(bytes)) {
      throw new DmfsError("E_IO", `The TLS sink did not receive the ${bytes} bytes sent to it.`);
    }
    return { MBps: megabytesPerSecond(bytes, milliseconds), cipher };
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
