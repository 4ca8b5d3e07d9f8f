// The node's permanent identity: 16 random bytes as 32 hex characters in <root>/node-id, created on
// first start. Peers know the node by it, so an unreadable file is an error, never a reason to re-roll.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { DmfsError } from "../errors.ts";
import { errnoOf, storeError } from "./store-errors.ts";

export const NODE_ID_FILE = "node-id";

const NODE_ID_CONTENT = /^([0-9a-f]{32})\n?$/;

/**
 * The id kept in `<root>/node-id`, creating the root and the id if this is the node's first start.
 * `issued` is the id `cluster add-node` chose for this node (in its bundle, so the admin could put the
 * node in the layout before it ever ran): the first start takes it, and a root holding another id is
 * refused, since the layout would name a node that never runs.
 */
export function loadOrCreateNodeId(root: string, issued?: string): string {
  const file = path.join(root, NODE_ID_FILE);
  const existing = readIfPresent(file);
  if (existing === undefined) return create(root, file, issued);
  const id = parseNodeId(existing, file);
  if (issued !== undefined && id !== issued) {
    throw new DmfsError(
      "E_CONFIG",
      `${root} belongs to node ${id}, but this node's bundle was issued for node ${issued}; start it with an empty root, or with the bundle that root was made with`,
      { subject: file },
    );
  }
  return id;
}

/** The id in a node-id file's text; anything else is E_IO naming the file. */
export function parseNodeId(text: string, file: string): string {
  const id = NODE_ID_CONTENT.exec(text)?.[1];
  if (id === undefined) {
    throw new DmfsError(
      "E_IO",
      `node id file ${file} is malformed (expected 32 lowercase hex characters); restore it, or remove it to make this a new node`,
      { subject: file },
    );
  }
  return id;
}

/** The id `cluster add-node` wrote into a node bundle, if it did. */
export function readIssuedNodeId(bundleDir: string): string | undefined {
  const file = path.join(bundleDir, NODE_ID_FILE);
  const text = readIfPresent(file);
  return text === undefined ? undefined : parseNodeId(text, file);
}

function readIfPresent(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (err) {
    if (errnoOf(err) === "ENOENT") return undefined;
    throw storeError(err, "read node id file", file);
  }
}

/** Writes a new id crash-safely: a temp file, fsync, rename, fsync of the directory. */
function create(root: string, file: string, issued?: string): string {
  const id = issued ?? randomBytes(16).toString("hex");
  const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    fs.mkdirSync(root, { recursive: true });
    const fd = fs.openSync(temp, "wx", 0o644);
    try {
      fs.writeSync(fd, `${id}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, file);
    const dir = fs.openSync(root, "r");
    try {
      fs.fsyncSync(dir);
    } finally {
      fs.closeSync(dir);
    }
    return id;
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw storeError(err, "create node id file", file);
  }
}
