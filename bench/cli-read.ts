// `dmfs read KEY` from dist/ as a person runs it, its stdout checked byte for byte against the generated
// stream as it arrives (bench/e2e-data.ts): the reference an S3 GET of the same size is compared with.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { pipeline } from "node:stream/promises";
import { DmfsError } from "../src/errors.ts";
import { DIST_CLI, stopProcess } from "./e2e-cluster.ts";
import { ExactStreamCheck } from "./e2e-data.ts";

/** Milliseconds from starting the command to its exit, start-up included; fails on a wrong byte or exit status. */
export async function cliRead(opts: {
  clusterDir: string;
  gateway: string;
  key: string;
  seed: string;
  bytes: number;
}): Promise<number> {
  const start = performance.now();
  const child = spawn(
    process.execPath,
    [DIST_CLI, "read", opts.key, "--node", opts.gateway, "--cluster", opts.clusterDir],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const errors: Buffer[] = [];
  child.stderr.on("data", (b: Buffer) => errors.push(b));
  const exited = once(child, "exit");
  try {
    await pipeline(child.stdout, new ExactStreamCheck(opts.seed, opts.bytes, `dmfs read ${opts.seed}`));
    await exited;
    const milliseconds = performance.now() - start;
    if (child.exitCode !== 0) {
      throw new DmfsError(
        "E_IO",
        `dmfs read of ${opts.seed} exited with ${child.signalCode ?? `code ${child.exitCode}`}: ${Buffer.concat(errors)}`,
      );
    }
    return milliseconds;
  } finally {
    await stopProcess(child);
  }
}
