// The bundles `dmfs init` and `dmfs cluster add-node` write (DESIGN.md section 8): the admin/client bundle
// (CA key, client certificate, data key) and one bundle per node holding only the CA certificate and that
// node's own certificate and key. Private keys are mode 0600 from creation.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, unlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  createClusterCa,
  issueCertificate,
  type PemPair,
  serialOfCertificate,
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
  /** Absolute path of the admin bundle (the cluster directory). */
  dir: string;
  /** Absolute paths of the node bundles, node-0 first. */
  nodeBundles: string[];
  /** Absolute paths of every file written, in the order written. */
  files: string[];
}

export interface AddNodeOptions {
  /** The admin bundle. */
  dir: string;
  name: string;
  /** Where to write the node bundle; default `<dir>/nodes/<name>`. */
  out?: string;
}

export interface NodeBundle {
  name: string;
  /** Absolute path of the bundle directory. */
  dir: string;
  /** The certificate's serial number, lowercase hex. */
  serial: string;
  files: string[];
}

/** The most node certificates one `initCluster` issues. */
export const MAX_CLUSTER_NODES = 1000;

const CLUSTER_FILE = "cluster.json";
const DATA_KEY_FILE = "data.key";
const CA_KEY_FILE = "ca.key";
const NODES_DIR = "nodes";
const ISSUED_DIR = "issued";
const NODE_CERT = "node.crt";
const NODE_KEY = "node.key";
const PRIVATE_MODE = 0o600;
const PUBLIC_MODE = 0o644;
const DIR_MODE = 0o700;
const CLUSTER_ID = /^[0-9a-f]{32}$/;
const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const REVOCATIONS_DIR = "revocations";

/**
 * Creates a new cluster. `dir` becomes the admin/client bundle: cluster.json, the CA certificate and
 * key, the client certificate and key and the data key. Each node gets its own bundle under
 * `dir/nodes/node-<i>` holding only cluster.json, the CA certificate and its own certificate and key.
 */
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
  await rm(join(dir, ISSUED_DIR), { recursive: true, force: true });
  await rm(join(dir, REVOCATIONS_DIR), { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: DIR_MODE });

  const clusterId = randomBytes(16).toString("hex");
  const description = `${JSON.stringify({ clusterId, createdAt: new Date().toISOString() }, null, 2)}\n`;
  const files: string[] = [];
  const ca = await createClusterCa(clusterId);
  files.push(await writeFileAtomically(join(dir, "ca.crt"), ca.cert, PUBLIC_MODE));
  files.push(await writeFileAtomically(join(dir, CA_KEY_FILE), ca.key, PRIVATE_MODE));
  const client = await issueCertificate(ca, { clusterId, role: "client", name: "client" });
  files.push(await writeFileAtomically(join(dir, "client.crt"), client.cert, PUBLIC_MODE));
  files.push(await writeFileAtomically(join(dir, "client.key"), client.key, PRIVATE_MODE));

  const dataKeyPath = join(dir, DATA_KEY_FILE);
  await rm(dataKeyPath, { force: true });
  await generateDataKey(dataKeyPath);
  files.push(dataKeyPath);

  const nodeBundles: string[] = [];
  for (let index = 0; index < options.nodes; index++) {
    const name = `node-${index}`;
    const bundle = await writeNodeBundle(dir, ca, clusterId, description, name, join(dir, NODES_DIR, name));
    nodeBundles.push(bundle.dir);
    files.push(...bundle.files);
  }
  files.push(await writeFileAtomically(join(dir, CLUSTER_FILE), description, PUBLIC_MODE));
  return { clusterId, dir, nodeBundles, files };
}

/**
 * Issues a certificate for one more node from the admin bundle's CA and writes its bundle. The data key
 * is never read: adding a node leaves every stored file as it was.
 */
export async function addNode(options: AddNodeOptions): Promise<NodeBundle> {
  const dir = resolve(options.dir);
  assertNodeName(options.name);
  const clusterId = await readClusterId(dir);
  const ca = {
    cert: await readClusterFile(dir, join(dir, "ca.crt")),
    key: await readClusterFile(dir, join(dir, CA_KEY_FILE)),
  };
  const out = resolve(options.out ?? join(dir, NODES_DIR, options.name));
  if (existsSync(join(dir, ISSUED_DIR, `${options.name}.crt`))) {
    throw new DmfsError(
      "E_CLUSTER_EXISTS",
      `A node named ${options.name} was already issued a certificate; choose another name.`,
      { subject: options.name },
    );
  }
  if (existsSync(join(out, NODE_KEY))) {
    throw new DmfsError("E_CLUSTER_EXISTS", `${out} already holds a node bundle; choose another --out.`, {
      subject: out,
    });
  }
  const description = await readFile(join(dir, CLUSTER_FILE), "utf8");
  try {
    return await writeNodeBundle(dir, ca, clusterId, description, options.name, out);
  } catch (err) {
    throw asDmfsError(err);
  }
}

// The bundle first, then the admin's record of the certificate (what `cluster revoke` looks up).
async function writeNodeBundle(
  adminDir: string,
  ca: PemPair,
  clusterId: string,
  description: string,
  name: string,
  out: string,
): Promise<NodeBundle> {
  const pair = await issueCertificate(ca, { clusterId, role: "node", name });
  await mkdir(out, { recursive: true, mode: DIR_MODE });
  await mkdir(join(adminDir, ISSUED_DIR), { recursive: true, mode: DIR_MODE });
  const files = [
    await writeFileAtomically(join(out, "ca.crt"), ca.cert, PUBLIC_MODE),
    await writeFileAtomically(join(out, NODE_CERT), pair.cert, PUBLIC_MODE),
    await writeFileAtomically(join(out, NODE_KEY), pair.key, PRIVATE_MODE),
    await writeFileAtomically(join(out, CLUSTER_FILE), description, PUBLIC_MODE),
  ];
  files.push(await writeFileAtomically(join(adminDir, ISSUED_DIR, `${name}.crt`), pair.cert, PUBLIC_MODE));
  return { name, dir: out, serial: serialOfCertificate(pair.cert), files };
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
    `${what} in ${dir}; use --force to replace it (its data key and certificates are lost), or "dmfs cluster add-node" to add a node.`,
    { subject: dir },
  );
}

/**
 * Reads the client identity from the admin/client bundle. The role argument stays for the callers that
 * name it; nodes read theirs with `loadNodeBundle`.
 */
export async function loadIdentity(dir: string, _role: "client"): Promise<ClusterIdentity> {
  const root = resolve(dir);
  const clusterId = await readClusterId(root);
  // One after the other, so the file named as missing is always the first one missing.
  const ca = await readClusterFile(root, join(root, "ca.crt"));
  const cert = await readClusterFile(root, join(root, "client.crt"));
  const key = await readClusterFile(root, join(root, "client.key"));
  return { clusterId, ca, cert, key };
}

/**
 * Reads a node's identity from its bundle directory. A directory holding the data key or the CA key is
 * refused: a node that starts from it would keep every cluster secret on its disk.
 */
export async function loadNodeBundle(dir: string): Promise<ClusterIdentity> {
  const root = resolve(dir);
  for (const secret of [DATA_KEY_FILE, CA_KEY_FILE]) {
    if (existsSync(join(root, secret))) {
      throw new DmfsError(
        "E_BUNDLE_SECRET",
        `${root} holds ${secret}, so it is the admin bundle, not a node bundle; start the node from its own bundle (e.g. ${join(root, NODES_DIR, "node-0")}) and keep ${secret} off node machines.`,
        { subject: join(root, secret) },
      );
    }
  }
  if (!existsSync(join(root, NODE_CERT))) {
    throw new DmfsError(
      "E_CLUSTER_MISSING",
      `${root} is not a node bundle (it has no ${NODE_CERT}); "dmfs init" writes one per node under <cluster dir>/nodes/ and "dmfs cluster add-node" issues more.`,
      { subject: root },
    );
  }
  const clusterId = await readClusterId(root);
  const ca = await readClusterFile(root, join(root, "ca.crt"));
  const cert = await readClusterFile(root, join(root, NODE_CERT));
  const key = await readClusterFile(root, join(root, NODE_KEY));
  return { clusterId, ca, cert, key };
}

/** The CA certificate and key of an admin bundle, for issuing and revoking. */
export async function loadClusterCa(dir: string): Promise<{ clusterId: string; ca: PemPair }> {
  const root = resolve(dir);
  const clusterId = await readClusterId(root);
  const cert = await readClusterFile(root, join(root, "ca.crt"));
  const key = await readClusterFile(root, join(root, CA_KEY_FILE));
  return { clusterId, ca: { cert, key } };
}

/** The certificate the admin bundle issued to node `name`, PEM. */
export async function loadIssuedCertificate(dir: string, name: string): Promise<string> {
  const root = resolve(dir);
  assertNodeName(name);
  const path = join(root, ISSUED_DIR, `${name}.crt`);
  if (!existsSync(path)) {
    throw new DmfsError(
      "E_NOT_FOUND",
      `No node named ${name} was issued a certificate from ${root}; "ls ${join(root, ISSUED_DIR)}" lists the nodes.`,
      { subject: name },
    );
  }
  return readClusterFile(root, path);
}

/** Keeps a revocation the admin issued in the admin bundle, so it can be sent again later. */
export async function saveRevocation(dir: string, name: string, revocation: Uint8Array): Promise<string> {
  const folder = join(resolve(dir), REVOCATIONS_DIR);
  await mkdir(folder, { recursive: true, mode: DIR_MODE });
  return writeFileAtomically(join(folder, `${name}.crl`), revocation, PUBLIC_MODE);
}

/** Every revocation kept in the admin bundle (DER). */
export async function loadRevocations(dir: string): Promise<Uint8Array[]> {
  const folder = join(resolve(dir), REVOCATIONS_DIR);
  if (!existsSync(folder)) return [];
  const names = (await readdir(folder)).filter((name) => name.endsWith(".crl")).sort();
  return Promise.all(names.map((name) => readFile(join(folder, name))));
}

/** The path of the cluster's data key, after checking that it is there. */
export function loadDataKeyPath(dir: string): string {
  const path = join(resolve(dir), DATA_KEY_FILE);
  if (!existsSync(path)) throw missing(resolve(dir), path);
  return path;
}

function assertNodeName(name: string): void {
  if (!NODE_NAME.test(name)) {
    throw new DmfsError(
      "E_USAGE",
      `A node name may only contain letters, digits, ".", "_" and "-" (at most 64), not ${JSON.stringify(name)}.`,
      { subject: name },
    );
  }
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
export async function writeFileAtomically(
  path: string,
  content: string | Uint8Array,
  mode: number,
): Promise<string> {
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
