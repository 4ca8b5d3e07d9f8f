// The S3 command-line clients users have - the Debian `awscli`, `rclone` and `s3cmd` - run against a
// RunningGateway. Each client is configured with the config files README.md shows (read from it, so the
// README's lines are the tested ones), written under a temporary HOME; clients run with an environment
// made from scratch, so neither the user's files nor this machine's AWS_* / CA settings reach them.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { REPO, TestCluster } from "./cluster-harness.ts";
import { type RunningGateway, startS3Gateway } from "./s3-gateway.ts";

export type S3ClientName = "aws" | "rclone" | "s3cmd";

export interface ClientResult {
  code: number | null;
  stdout: string;
  /** Standard output as bytes (`rclone cat`), which `stdout` (UTF-8) would mangle. */
  stdoutBytes: Buffer;
  stderr: string;
}

export interface ClientHome {
  home: string;
  /** `aws --profile dmfs --endpoint-url ENDPOINT [--ca-bundle CA] ...args` */
  aws: (args: string[], timeoutMs?: number) => Promise<ClientResult>;
  /** `rclone [--ca-cert CA] ...args`, remote `dmfs:` */
  rclone: (args: string[], timeoutMs?: number) => Promise<ClientResult>;
  /** `s3cmd -c HOME/.s3cfg ...args` */
  s3cmd: (args: string[], timeoutMs?: number) => Promise<ClientResult>;
  remove: () => Promise<void>;
}

/**
 * The client's binary: the Debian package's (/usr/bin, what `.ci/run` installs) ahead of any other on
 * PATH, such as a pip-installed aws-cli v1; undefined when there is none.
 */
export function clientBinary(name: S3ClientName): string | undefined {
  const debian = `/usr/bin/${name}`;
  if (existsSync(debian)) return debian;
  const found = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

/** Why the tests of `names` cannot run here, or undefined when every client is installed. */
export function missingClients(names: S3ClientName[]): string | undefined {
  const missing = names.filter((n) => clientBinary(n) === undefined);
  return missing.length ? `not installed: ${missing.join(", ")} (.ci/run installs them)` : undefined;
}

/** The fenced block of README.md whose first line is `# FILE`, e.g. `# ~/.s3cfg`. */
export async function readmeConfig(file: string): Promise<string> {
  const readme = await readFile(join(REPO, "README.md"), "utf8");
  const start = readme.indexOf(`\`\`\`ini\n# ${file}\n`);
  if (start === -1) throw new Error(`README.md has no \`\`\`ini block starting "# ${file}"`);
  const body = readme.indexOf("\n", start) + 1;
  return readme.slice(body, readme.indexOf("```", body));
}

/**
 * A temporary HOME with README's aws-cli, rclone and s3cmd files, for `gateway`'s key and address:
 * README's `DM...`, `SECRET`, `127.0.0.1:9000` and (for HTTPS) the scheme and the CA file replaced.
 */
export async function clientHome(
  gateway: RunningGateway,
  opts: { caFile?: string } = {},
): Promise<ClientHome> {
  const home = await mkdtemp(join(tmpdir(), "dmfs-s3-clients-"));
  const https = gateway.endpoint.startsWith("https://");
  const fill = (text: string) =>
    text
      .replaceAll("DM...", gateway.accessKeyId)
      .replaceAll("SECRET", gateway.secretAccessKey)
      .replaceAll("http://127.0.0.1:9000", gateway.endpoint)
      .replaceAll("127.0.0.1:9000", gateway.listen)
      .replace("use_https = False", `use_https = ${https ? "True" : "False"}`);
  const files = {
    awsConfig: join(home, ".aws/config"),
    awsCredentials: join(home, ".aws/credentials"),
    rclone: join(home, ".config/rclone/rclone.conf"),
    s3cmd: join(home, ".s3cfg"),
  };
  const write = async (path: string, text: string) => {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text, { mode: 0o600 });
  };
  await write(files.awsConfig, fill(await readmeConfig("~/.aws/config")));
  await write(files.awsCredentials, fill(await readmeConfig("~/.aws/credentials")));
  await write(files.rclone, fill(await readmeConfig("~/.config/rclone/rclone.conf")));
  await write(
    files.s3cmd,
    fill(await readmeConfig("~/.s3cfg")) + (opts.caFile ? `ca_certs_file = ${opts.caFile}\n` : ""),
  );
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    LANG: "C.UTF-8",
    TZ: "UTC",
    AWS_CONFIG_FILE: files.awsConfig,
    AWS_SHARED_CREDENTIALS_FILE: files.awsCredentials,
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_PAGER: "",
    RCLONE_CONFIG: files.rclone,
  };
  const run = (name: S3ClientName, args: string[], timeoutMs = 120_000) => {
    const binary = clientBinary(name);
    if (binary === undefined) throw new Error(`${name} is not installed (.ci/run installs it)`);
    return runClient(binary, args, env, timeoutMs);
  };
  const ca = opts.caFile;
  return {
    home,
    aws: (args, t) =>
      run(
        "aws",
        [
          "--profile",
          "dmfs",
          "--endpoint-url",
          gateway.endpoint,
          ...(ca ? ["--ca-bundle", ca] : []),
          ...args,
        ],
        t,
      ),
    rclone: (args, t) => run("rclone", [...(ca ? ["--ca-cert", ca] : []), ...args], t),
    s3cmd: (args, t) => run("s3cmd", ["-c", files.s3cmd, ...args], t),
    remove: () => rm(home, { recursive: true, force: true }),
  };
}

function runClient(
  binary: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs: number,
): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(binary, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    proc.stdout.on("data", (b: Buffer) => stdout.push(b));
    proc.stderr.on("data", (b: Buffer) => stderr.push(b));
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`${binary} ${args.join(" ")} still running after ${timeoutMs} ms`));
    }, timeoutMs);
    proc.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    proc.once("close", (code) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(stdout);
      resolve({
        code,
        stdout: stdoutBytes.toString(),
        stdoutBytes,
        stderr: Buffer.concat(stderr).toString(),
      });
    });
  });
}

/** Two real nodes (R=2, W=2), a `dmfs s3` gateway in front of node 0, a client HOME and a work directory. */
export interface ClientSetup {
  cluster: TestCluster;
  gateway: RunningGateway;
  clients: ClientHome;
  /** A temporary directory for the test's own files. */
  work: string;
  /** Stops and removes all of it. */
  stop(): Promise<void>;
}

/** The setup the client test files share; `name` prefixes the work directory. */
export async function startClientSetup(name: string): Promise<ClientSetup> {
  const work = await mkdtemp(join(tmpdir(), `dmfs-${name}-`));
  const cluster = await TestCluster.create([{ join: [] }, { join: [0] }], { replication: 2, writeQuorum: 2 });
  let gateway: RunningGateway | undefined;
  let clients: ClientHome | undefined;
  const stop = async () => {
    await clients?.remove();
    await gateway?.stop();
    await cluster.stop();
    await rm(work, { recursive: true, force: true });
  };
  try {
    await cluster.startAll();
    await cluster.waitForMesh();
    gateway = await startS3Gateway(cluster, 0);
    clients = await clientHome(gateway);
  } catch (err) {
    await stop();
    throw err;
  }
  return { cluster, gateway, clients, work, stop };
}
