// The client as people run it: `dmfs upload FIFO` from dist/, fed a generated file through a named pipe
// (as `producer | dmfs upload /dev/stdin` would be), with its peak resident size sampled from /proc for its whole life (start-up, TLS,
// crypto pool and the transfer). The suite's own client process runs under tsx, whose loader thread
// alone adds ~40 MiB; this is the figure the memory target is about.
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { DmfsError } from "../src/errors.ts";
import { DIST_CLI, stopProcess } from "./e2e-cluster.ts";
import { streamPieces } from "./e2e-data.ts";
import { residentBytes } from "./e2e-memory.ts";

const SAMPLE_EVERY_MS = 100;
const PIECE_BYTES = 1024 * 1024;
const MiB = 1024 * 1024;

export interface CliUploadResult {
  key: string;
  milliseconds: number;
  /** The process's high-water resident size (VmHWM) at its last sample before exit; null without /proc. */
  peakRssMiB: number | null;
}

/** Uploads `bytes` of the stream named `seed` with `dmfs upload` through `gateway`; the pipe lives in `workDir`. */
export async function cliUpload(opts: {
  workDir: string;
  clusterDir: string;
  gateway: string;
  seed: string;
  bytes: number;
}): Promise<CliUploadResult> {
  const fifo = join(opts.workDir, "cli-upload.fifo");
  execFileSync("mkfifo", [fifo]);
  const args = [DIST_CLI, "upload", fifo, "--node", opts.gateway, "--cluster", opts.clusterDir];
  const child = spawn(process.execPath, [...args, "--path", opts.seed, "--json"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  // Opening a FIFO for writing waits for its reader: the command, once it has connected.
  const input = createWriteStream(fifo);
  const output: Buffer[] = [];
  const errors: Buffer[] = [];
  child.stdout.on("data", (b: Buffer) => output.push(b));
  child.stderr.on("data", (b: Buffer) => errors.push(b));
  const exited = once(child, "exit");
  let peak: number | null = null;
  // Stops at exit; the kernel forgets the high-water mark then, so it is read while the process runs.
  const sampler = setInterval(() => {
    const hwm = residentBytes(child.pid as number)?.hwm;
    if (hwm !== undefined) peak = Math.max(peak ?? 0, hwm);
  }, SAMPLE_EVERY_MS);
  const start = performance.now();
  try {
    input.on("error", () => undefined); // a command that died is reported by its exit below
    for await (const piece of streamPieces(opts.seed, opts.bytes, PIECE_BYTES)) {
      if (child.exitCode !== null) break;
      if (!input.write(piece)) await Promise.race([once(input, "drain"), exited]);
    }
    input.end();
    await exited;
    const milliseconds = performance.now() - start;
    if (child.exitCode !== 0) {
      throw new DmfsError(
        "E_IO",
        `dmfs upload of ${opts.seed} exited with ${child.signalCode ?? `code ${child.exitCode}`}: ${Buffer.concat(errors)}`,
      );
    }
    const { key } = JSON.parse(Buffer.concat(output).toString()) as { key: string };
    return { key, milliseconds, peakRssMiB: peak === null ? null : peak / MiB };
  } finally {
    clearInterval(sampler);
    input.destroy();
    await stopProcess(child);
    await rm(fifo, { force: true });
  }
}
