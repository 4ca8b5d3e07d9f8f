// A real `dmfs s3` process from the build, in front of a TestCluster's node, with an access key made by
// the real `dmfs s3 keys create`; and an AWS SDK v3 client pointed at it (default settings, path-style).
// With `tls` the gateway serves HTTPS (--tls-cert/--tls-key) and the SDK client trusts only `tls.ca`.
import { type ChildProcess, spawn } from "node:child_process";
import { Agent } from "node:https";
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { CLI, freePort, runCli, type TestCluster, waitFor } from "./cluster-harness.ts";

export interface RunningGateway {
  /** `http://127.0.0.1:PORT`, or `https://` with TLS. */
  endpoint: string;
  /** `127.0.0.1:PORT` */
  listen: string;
  accessKeyId: string;
  secretAccessKey: string;
  proc: ChildProcess;
  output: string[];
  /** An SDK client with this gateway's key; `config` overrides any setting. */
  client: (config?: Partial<S3ClientConfig>) => S3Client;
  stop: () => Promise<void>;
}

export interface GatewayTlsFiles {
  certFile: string;
  keyFile: string;
  /** PEM the clients trust the certificate by. */
  ca: string;
}

/** `extraArgs` go to `dmfs s3` after the listen, node and cluster options. */
export async function startS3Gateway(
  cluster: TestCluster,
  node = 0,
  extraArgs: string[] = [],
  opts: { tls?: GatewayTlsFiles } = {},
): Promise<RunningGateway> {
  const made = await runCli(["s3", "keys", "create", "--json", "--cluster", cluster.clusterDir]);
  if (made.code !== 0) throw new Error(`dmfs s3 keys create failed: ${made.stderr}`);
  const { accessKeyId, secretAccessKey } = JSON.parse(made.stdout) as {
    accessKeyId: string;
    secretAccessKey: string;
  };
  const listen = `127.0.0.1:${await freePort()}`;
  const proc = spawn(
    process.execPath,
    [
      CLI,
      "s3",
      "--listen",
      listen,
      "--node",
      cluster.addrs[node] as string,
      "--cluster",
      cluster.clusterDir,
      ...(opts.tls ? ["--tls-cert", opts.tls.certFile, "--tls-key", opts.tls.keyFile] : []),
      ...extraArgs,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const output: string[] = [];
  const collect = (b: Buffer) => output.push(...b.toString().split("\n").filter(Boolean));
  proc.stdout?.on("data", collect);
  proc.stderr?.on("data", collect);
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGKILL");
    await gone;
  };
  try {
    await waitFor(
      `dmfs s3 to serve on ${listen}`,
      () => {
        if (proc.exitCode !== null) throw new Error(`dmfs s3 exited: ${output.slice(-5).join("\n")}`);
        return output.some((l) => l.includes("serving S3 on"));
      },
      30_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const endpoint = `${opts.tls ? "https" : "http"}://${listen}`;
  const ca = opts.tls?.ca;
  const client = (config: Partial<S3ClientConfig> = {}) =>
    new S3Client({
      endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId, secretAccessKey },
      ...(ca ? { requestHandler: { httpsAgent: new Agent({ ca }) } } : {}),
      ...config,
    });
  return { endpoint, listen, accessKeyId, secretAccessKey, proc, output, client, stop };
}
