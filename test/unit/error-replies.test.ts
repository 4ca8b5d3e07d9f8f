// What a node tells peers and clients about its own failures: the stable code, never a local path.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DmfsError } from "../../src/errors.ts";
import { replyErrorFor } from "../../src/node/error-replies.ts";
import { storeError } from "../../src/store/store-errors.ts";

const ROOT = "/var/lib/dmfs/node-3";
const scope = { nodeId: "ab".repeat(16), localPaths: [ROOT] };

function systemError(code: string, path: string): Error {
  return Object.assign(new Error(`${code}: failure, write '${path}'`), { code, path });
}

describe("error replies", () => {
  it("turns a write failing with ENOSPC into E_NO_SPACE that names the node, not the file", () => {
    const err = storeError(systemError("ENOSPC", `${ROOT}/tmp/0a1b`), "write chunk file", `${ROOT}/tmp/0a1b`);
    expect(err.message).toContain(ROOT); // what the node logs
    const reply = replyErrorFor(err, scope);
    expect(reply.code).toBe("E_NO_SPACE");
    expect(reply.message).toBe(`node abababab: its disk is full (no space left on the device)`);
  });

  it("keeps the code of every disk failure and drops the path, even one outside the root", () => {
    for (const [errno, code] of [
      ["EIO", "E_IO"],
      ["EACCES", "E_PERMISSION"],
      ["EROFS", "E_READ_ONLY"],
      ["EDQUOT", "E_NO_SPACE"],
    ] as const) {
      const err = storeError(systemError(errno, "/mnt/elsewhere/x"), "read chunk file", "/mnt/elsewhere/x");
      const reply = replyErrorFor(err, scope);
      expect(reply.code).toBe(code);
      expect(reply.message).not.toMatch(/\/mnt|elsewhere/);
    }
  });

  it("answers a raw error (not a DmfsError) by its errno only, or as an internal error", () => {
    expect(replyErrorFor(systemError("ENOSPC", `${ROOT}/node.db`), scope)).toMatchObject({
      code: "E_NO_SPACE",
      message: "node abababab: its disk is full (no space left on the device)",
    });
    expect(
      replyErrorFor(Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" }), scope),
    ).toMatchObject({ code: "E_NO_SPACE" });
    expect(replyErrorFor(new TypeError(`cannot read ${ROOT}/x of undefined`), scope)).toMatchObject({
      code: "E_IO",
      message: "node abababab: internal error",
    });
  });

  it("passes an error without a local path unchanged, and rewrites any other that names the root", () => {
    const plain = new DmfsError("E_DISK_FULL", "this node's disk is below its free-space reserve");
    expect(replyErrorFor(plain, scope)).toBe(plain);
    const named = new DmfsError("E_CHUNK_CORRUPT", `chunk file ${ROOT}/chunks/ab/abcd is corrupt`);
    expect(replyErrorFor(named, scope)).toMatchObject({
      code: "E_CHUNK_CORRUPT",
      message: "node abababab: chunk bytes do not match their id",
    });
  });

  it("never lets the root through, whatever the message around it", () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.string(),
        fc.constantFrom("E_IO", "E_NOT_FOUND", "E_CONFIG"),
        (a, b, code) => {
          const reply = replyErrorFor(new DmfsError(code, `${a}${ROOT}${b}`), scope);
          return !reply.message.includes(ROOT) && reply.code === code;
        },
      ),
    );
  });
});
