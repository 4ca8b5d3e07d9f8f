// The node's permanent identity: 16 random bytes as 32 hex characters in <root>/node-id, created on
// first start. Peers know the node by it, so an unreadable file is an error, never a reason to re-roll.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { DmfsError } from "../errors.ts";
import { errnoOf, storeError } from "./store-errors.ts";

export const NODE_ID_FILE = "node-id";

const NODE_ID_CONTENT = /^([0-9a-f]{32})\n?$/;

/** The id kept in `<root>/node-id`, creating the root and the id if this is the node's first start. */
export function loadOrCreateNodeId(root: string): string {
  const file = path.join(root, NODE_ID_FILE);
  const existing = readIfPresent(file);
  if (existing === undefined) return create(root, file);
  const id = NODE_ID_CONTENT.exec(existing)?.[1];
  if (id === undefined) {
    throw new DmfsError(
      "E_IO",
      `node id file ${file} is malformed (expected 32 lowercase hex characters); restore it, or remove it to make this a new node`,
      { subject: file },
    );
  }
  return id;
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
function create(root: string, file: string): string {
  const id = randomBytes(16).toString("hex");
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
