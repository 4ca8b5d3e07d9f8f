// What a node may say about its own failures to the peers and clients it answers. Store and database
// errors name the local file they failed on (what an operator needs in the node's log); a reply keeps
// their stable code but says it in a sentence without any local path, naming the node instead.
import { DmfsError, type ErrorCode, ErrorCodes, isDmfsError } from "../errors.ts";
import { errnoOf } from "../store/store-errors.ts";

/** The codes a failing disk or database produces, each with what the reply says instead. */
const DISK_SENTENCES: Partial<Record<ErrorCode, string>> = {
  E_NO_SPACE: "its disk is full (no space left on the device)",
  E_PERMISSION: "permission denied on its disk",
  E_READ_ONLY: "its disk is read-only",
  E_IO: "an input/output error on its disk",
};

const CODE_BY_ERRNO: Readonly<Record<string, ErrorCode>> = {
  ENOSPC: "E_NO_SPACE",
  EDQUOT: "E_NO_SPACE",
  SQLITE_FULL: "E_NO_SPACE",
  EACCES: "E_PERMISSION",
  EPERM: "E_PERMISSION",
  EROFS: "E_READ_ONLY",
};

export interface ReplyScope {
  /** This node's id: the reply names it so the client knows which node failed. */
  nodeId: string;
  /** Local paths that must never leave the node (its root, its bundle). */
  localPaths: readonly string[];
}

/**
 * The error to send for `err`: unchanged when it carries no local path and is not a disk failure,
 * otherwise one with the same code (E_IO for an error that is not a DmfsError) and a path-free sentence.
 */
export function replyErrorFor(err: unknown, scope: ReplyScope): DmfsError {
  const who = `node ${scope.nodeId.slice(0, 8)}`;
  if (isDmfsError(err)) {
    const sentence = DISK_SENTENCES[err.code];
    if (sentence !== undefined && mentionsPath(err, scope)) {
      return new DmfsError(err.code, `${who}: ${sentence}`);
    }
    if (!mentionsPath(err, scope)) return err;
    return new DmfsError(err.code, `${who}: ${ErrorCodes[err.code]}`);
  }
  const errno = errnoOf(err);
  const code = (errno === undefined ? undefined : CODE_BY_ERRNO[errno]) ?? "E_IO";
  const sentence = DISK_SENTENCES[code] ?? ErrorCodes[code];
  return new DmfsError(code, `${who}: ${errno === undefined ? "internal error" : sentence}`);
}

/** Whether the error's message or subject names a local path (any absolute path counts for disk errors). */
function mentionsPath(err: DmfsError, scope: ReplyScope): boolean {
  const texts = [err.message, err.subject ?? ""];
  if (texts.some((t) => scope.localPaths.some((p) => p.length > 0 && t.includes(p)))) return true;
  return DISK_SENTENCES[err.code] !== undefined && texts.some((t) => ABSOLUTE_PATH.test(t));
}

const ABSOLUTE_PATH = /(^|[\s'"(])\/[^\s/]/;
