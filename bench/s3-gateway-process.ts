// A real `dmfs s3` gateway for the s3 suite: an access key made by `dmfs s3 keys create --json` from the
// build in dist/, the gateway process in front of one node of a BenchCluster on a free 127.0.0.1 port,
// and AWS SDK v3 clients pointed at it (default settings, path-style) - as test/helpers/s3-gateway.ts
// does for the tests, without the test harness.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { DmfsError } from "../src/errors.ts";
import { DIST_CLI, freePort, stopProcess } from "./e2e-cluster.ts";

const START_TIMEOUT_MS = 30_000;
/** Extra Node.js options for the gateway process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it. */
const GATEWAY_ARGS_VARIABLE = "DMFS_BENCH_GATEWAY_ARGS";
const OUTPUT_LINES_KEPT = 50;

export interface BenchGateway {
  endpoint: string;
  proc: ChildProcess;
  pid: number;
  /** An SDK client with this gateway's key; `config` overrides any setting. */
  client: (config?: Partial<S3ClientConfig>) => S3Client;
  stop: () => Promise<void>;
}

/** Makes an access key and starts `dmfs s3` against the node at `nodeAddr`; resolves once it serves. */
export async function startBenchGateway(
  clusterDir: string,
  nodeAddr: string,
  options: { nodeArgs?: string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<BenchGateway> {
  const made = await promisify(execFile)(process.execPath, [
    DIST_CLI,
    "s3",
    "keys",
    "create",
    "--json",
    "--cluster",
    clusterDir,
  ]);
  const credentials = JSON.parse(made.stdout) as { accessKeyId: string; secretAccessKey: string };
  const listen = `127.0.0.1:${await freePort()}`;
  const proc = spawn(
    process.execPath,
    [
      ...(process.env[GATEWAY_ARGS_VARIABLE] ?? "").split(/\s+/).filter(Boolean),
      ...(options.nodeArgs ?? []),
      DIST_CLI,
      "s3",
      "--listen",
      listen,
      "--node",
      nodeAddr,
      "--cluster",
      clusterDir,
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...options.env } },
  );
  const output: string[] = [];
  const stop = () => stopProcess(proc);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(died(`did not serve within ${START_TIMEOUT_MS} ms`)),
        START_TIMEOUT_MS,
      );
      const collect = (data: Buffer) => {
        for (const line of data.toString().split("\n").filter(Boolean)) {
          output.push(line);
          if (output.length > OUTPUT_LINES_KEPT) output.shift();
          if (line.includes("serving S3 on")) {
            clearTimeout(timer);
            resolve();
          }
        }
      };
      proc.stdout?.on("data", collect);
      proc.stderr?.on("data", collect);
      proc.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(died(`exited (${signal ?? `code ${code}`})`));
      });
    });
  } catch (err) {
    await stop();
    throw err;
  }
  const endpoint = `http://${listen}`;
  const client = (config: Partial<S3ClientConfig> = {}) =>
    new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials, ...config });
  return { endpoint, proc, pid: proc.pid as number, client, stop };

  function died(what: string): DmfsError {
    return new DmfsError(
      "E_UNREACHABLE",
      `dmfs s3 on ${listen} ${what}; its last output:\n${output.slice(-10).join("\n")}`,
      { subject: listen },
    );
  }
}
