// The client side of an end-to-end transfer, run as a child process (bench/e2e-client-process.ts) so its
// memory and CPU are measured apart from the bench process, which has run other cases before.
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { DmfsError } from "../src/errors.ts";
import { stopProcess } from "./e2e-cluster.ts";

const CLIENT_PROCESS = resolve(import.meta.dirname, "e2e-client-process.ts");
const READY_TIMEOUT_MS = 30_000;
const STDERR_LINES_KEPT = 20;

interface TransferBase {
  clusterDir: string;
  /** The gateway node, host:port. */
  gateway: string;
  chunkSize: number;
  /** Names the file's contents (bench/e2e-data.ts) and, for an upload, its path. */
  seed: string;
  bytes: number;
  /** Whether the client uses direct data paths (as `dmfs upload`/`read` do) or only its gateway. */
  directPaths: boolean;
  /** Chunks in flight each way (FileClientOptions.window); the client's default when absent. */
  window?: number | undefined;
}

export type ClientTransfer = (TransferBase & { op: "upload" }) | (TransferBase & { op: "read"; key: string });

export interface ClientResult {
  key: string;
  milliseconds: number;
  /** CPU time the client used for the transfer, every thread (its crypto pool too). */
  cpuSeconds: number;
  /** The client's resident size when the transfer started, after connecting and warming its pool. */
  rssBeforeMiB: number;
  /** Its peak resident size during the transfer (VmHWM, reset at the start); null without /proc. */
  peakRssMiB: number | null;
}

/**
 * Runs `transfer` in a fresh client process. `starting(pid)` is called once the client is connected and
 * warmed up, just before it starts, so the caller can begin measuring the client and the nodes.
 */
export async function runClientProcess(
  transfer: ClientTransfer,
  starting: (pid: number) => void,
): Promise<ClientResult> {
  const child = spawn(
    process.execPath,
    ["--import", import.meta.resolve("tsx"), CLIENT_PROCESS, JSON.stringify(transfer)],
    {
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  const errors: string[] = [];
  createInterface({ input: child.stderr }).on("line", (line) => {
    errors.push(line);
    if (errors.length > STDERR_LINES_KEPT) errors.shift();
  });
  const exited = new Promise<void>((resolveExit) => child.once("exit", () => resolveExit()));
  const failed = (why: string) =>
    new DmfsError(
      "E_IO",
      `The bench client process (${transfer.op} of ${transfer.seed}) ${why}.\n${errors.join("\n")}`,
      {
        subject: transfer.seed,
      },
    );
  const readyTimer = setTimeout(() => child.kill("SIGKILL"), READY_TIMEOUT_MS);
  try {
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const next = async (): Promise<Record<string, unknown>> => {
      const line = await lines.next();
      if (line.done) {
        await exited;
        throw failed(`ended (${child.signalCode ?? `exit code ${child.exitCode}`}) without an answer`);
      }
      return JSON.parse(line.value) as Record<string, unknown>;
    };
    if ((await next()).ready !== true) throw failed("did not say it was ready");
    clearTimeout(readyTimer);
    starting(child.pid as number);
    child.stdin.end("go\n");
    const result = (await next()) as unknown as ClientResult;
    await exited;
    if (child.exitCode !== 0) throw failed(`exited with ${child.signalCode ?? `code ${child.exitCode}`}`);
    return result;
  } finally {
    clearTimeout(readyTimer);
    await stopProcess(child);
  }
}
