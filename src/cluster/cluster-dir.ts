// The cluster directory that `dmfs init` writes and every node and client reads: cluster.json, the CA,
// one certificate per node, the client certificate and the data key. Private keys are mode 0600.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, open, readFile, rename, rm, unlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  type CertificateRole,
  createClusterCa,
  issueCertificate,
  type PemPair,
} from "../crypto/certificates.ts";
import { generateDataKey } from "../crypto/keys.ts";
import { DmfsError, type ErrorCode } from "../errors.ts";

/** What a node or a client needs to speak mutual TLS inside its cluster. */
export interface ClusterIdentity {
  clusterId: string;
  /** The cluster CA certificate, PEM. */
  ca: string;
  /** Our own certificate, PEM. */
  cert: string;
  /** Our own private key, PKCS#8 PEM. */
  key: string;
}

export interface InitClusterOptions {
  dir: string;
  nodes: number;
  /** Replace a cluster already in `dir`. */
  force?: boolean;
}

export interface InitClusterResult {
  clusterId: string;
  /** Absolute path of the cluster directory. */
  dir: string;
  /** Absolute paths of every file written, in the order written. */
  files: string[];
}

/** The most node certificates one `initCluster` issues. */
export const MAX_CLUSTER_NODES = 1000;

const CLUSTER_FILE = "cluster.json";
const DATA_KEY_FILE = "data.key";
const NODES_DIR = "nodes";
const PRIVATE_MODE = 0o600;
const PUBLIC_MODE = 0o644;
const DIR_MODE = 0o700;
const CLUSTER_ID = /^[0-9a-f]{32}$/;
const NODE_NAME = /^node-(0|[1-9][0-9]*)$/;

/** Creates a new cluster: CA, a certificate for each node and the client, a data key, cluster.json. */
export async function initCluster(options: InitClusterOptions): Promise<InitClusterResult> {
  const dir = resolve(options.dir);
  try {
    return await writeCluster(dir, options);
  } catch (err) {
    throw asDmfsError(err);
  }
}

async function writeCluster(dir: string, options: InitClusterOptions): Promise<InitClusterResult> {
  if (!Number.isInteger(options.nodes) || options.nodes < 1 || options.nodes > MAX_CLUSTER_NODES) {
    throw new DmfsError("E_USAGE", `The node count must be a whole number from 1 to ${MAX_CLUSTER_NODES}.`, {
      subject: String(options.nodes),
    });
  }
  if (!options.force) refuseToOverwrite(dir);
  // cluster.json goes first and comes back last, so an interrupted init never looks like a cluster.
  await rm(join(dir, CLUSTER_FILE), { force: true });
  await rm(join(dir, NODES_DIR), { recursive: true, force: true });
  await mkdir(join(dir, NODES_DIR), { recursive: true, mode: DIR_MODE });

  const clusterId = randomBytes(16).toString("hex");
  const files: string[] = [];
  const writePair = async (base: string, pair: PemPair): Promise<void> => {
    files.push(await writeFileAtomically(`${base}.crt`, pair.cert, PUBLIC_MODE));
    files.push(await writeFileAtomically(`${base}.key`, pair.key, PRIVATE_MODE));
  };

  const ca = await createClusterCa(clusterId);
  await writePair(join(dir, "ca"), ca);
  for (let index = 0; index < options.nodes; index++) {
    const name = `node-${index}`;
    await writePair(
      join(dir, NODES_DIR, name),
      await issueCertificate(ca, { clusterId, role: "node", name }),
    );
  }
  await writePair(
    join(dir, "client"),
    await issueCertificate(ca, { clusterId, role: "client", name: "client" }),
  );

  const dataKeyPath = join(dir, DATA_KEY_FILE);
  await rm(dataKeyPath, { force: true });
  await generateDataKey(dataKeyPath);
  files.push(dataKeyPath);

  const description = { clusterId, createdAt: new Date().toISOString() };
  files.push(
    await writeFileAtomically(
      join(dir, CLUSTER_FILE),
      `${JSON.stringify(description, null, 2)}\n`,
      PUBLIC_MODE,
    ),
  );
  return { clusterId, dir, files };
}

// A data key left by an interrupted init may already protect uploaded files: only --force drops it.
function refuseToOverwrite(dir: string): void {
  const what = existsSync(join(dir, CLUSTER_FILE))
    ? "A cluster already exists"
    : existsSync(join(dir, DATA_KEY_FILE))
      ? "A data key already exists"
      : undefined;
  if (what === undefined) return;
  throw new DmfsError(
    "E_CLUSTER_EXISTS",
    `${what} in ${dir}; use --force to replace it (its data key and certificates are lost).`,
    { subject: dir },
  );
}

/** Reads the identity of `name` ("node-3") for role node, or of the cluster's client for role client. */
export async function loadIdentity(
  dir: string,
  role: CertificateRole,
  name?: string,
): Promise<ClusterIdentity> {
  const root = resolve(dir);
  const base = role === "node" ? join(root, NODES_DIR, nodeName(name)) : join(root, "client");
  const clusterId = await readClusterId(root);
  // One after the other, so the file named as missing is always the first one missing.
  const ca = await readClusterFile(root, join(root, "ca.crt"));
  const cert = await readClusterFile(root, `${base}.crt`);
  const key = await readClusterFile(root, `${base}.key`);
  return { clusterId, ca, cert, key };
}

/** The path of the cluster's data key, after checking that it is there. */
export function loadDataKeyPath(dir: string): string {
  const path = join(resolve(dir), DATA_KEY_FILE);
  if (!existsSync(path)) throw missing(resolve(dir), path);
  return path;
}

function nodeName(name: string | undefined): string {
  if (name === undefined || !NODE_NAME.test(name)) {
    throw new DmfsError(
      "E_USAGE",
      `A node identity needs a name like "node-0", not ${JSON.stringify(name)}.`,
      {
        subject: String(name),
      },
    );
  }
  return name;
}

async function readClusterId(root: string): Promise<string> {
  const path = join(root, CLUSTER_FILE);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readClusterFile(root, path));
  } catch (err) {
    if (err instanceof DmfsError) throw err;
    throw new DmfsError(
      "E_CLUSTER_MISSING",
      `${path} is not valid JSON; run "dmfs init --force" to recreate it.`,
      {
        subject: path,
        cause: err,
      },
    );
  }
  const clusterId = (parsed as { clusterId?: unknown } | null)?.clusterId;
  if (typeof clusterId !== "string" || !CLUSTER_ID.test(clusterId)) {
    throw new DmfsError("E_CLUSTER_MISSING", `${path} has no valid clusterId (32 hex digits).`, {
      subject: path,
    });
  }
  return clusterId;
}

async function readClusterFile(root: string, path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw missing(root, path);
    throw new DmfsError("E_CLUSTER_MISSING", `Cannot read ${path}: ${(err as Error).message}.`, {
      subject: path,
      cause: err,
    });
  }
}

function missing(root: string, path: string): DmfsError {
  if (!existsSync(root)) {
    return new DmfsError(
      "E_CLUSTER_MISSING",
      `The cluster directory ${root} does not exist; run "dmfs init" to create the cluster.`,
      { subject: root },
    );
  }
  return new DmfsError(
    "E_CLUSTER_MISSING",
    `The cluster directory ${root} has no ${path.slice(root.length + 1)}; run "dmfs init" to create the cluster.`,
    { subject: path },
  );
}

// Write to a temporary name created with its final mode, fsync, then rename: a reader sees the old
// file or the whole new one, and a private key is never readable by others, not even briefly.
async function writeFileAtomically(path: string, content: string, mode: number): Promise<string> {
  const temporary = `${path}.tmp-${randomBytes(4).toString("hex")}`;
  const handle = await open(temporary, "wx", mode);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await unlink(temporary).catch(() => {});
    throw err;
  }
  await handle.close();
  await rename(temporary, path);
  return path;
}

const ERRNO_CODES: Record<string, ErrorCode> = {
  EACCES: "E_PERMISSION",
  EPERM: "E_PERMISSION",
  ENOSPC: "E_NO_SPACE",
  EROFS: "E_READ_ONLY",
};

function asDmfsError(err: unknown): DmfsError {
  if (err instanceof DmfsError) return err;
  const { code, path } = err as NodeJS.ErrnoException;
  const where = path === undefined ? "the cluster directory" : path;
  return new DmfsError(
    ERRNO_CODES[code ?? ""] ?? "E_IO",
    `Cannot write ${where}: ${(err as Error).message}.`,
    { subject: path, cause: err },
  );
}
