import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadOrCreateNodeId, NODE_ID_FILE, readIssuedNodeId } from "../../src/store/node-identity.ts";

const roots: string[] = [];

function tempRoot(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "dmfs-identity-"));
  roots.push(root);
  return root;
}

function thrownBy(work: () => unknown): unknown {
  try {
    work();
  } catch (err) {
    return err;
  }
  return undefined;
}

afterEach(() => {
  for (const root of roots.splice(0)) fs.rmSync(root, { recursive: true, force: true });
});

describe("loadOrCreateNodeId", () => {
  it("creates a 32-hex-character id on first start and keeps it in <root>/node-id", () => {
    const root = tempRoot();
    const id = loadOrCreateNodeId(root);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(fs.readFileSync(path.join(root, NODE_ID_FILE), "utf8")).toBe(`${id}\n`);
    // Only the id file: the temp file it was written through is gone.
    expect(fs.readdirSync(root)).toEqual([NODE_ID_FILE]);
  });

  it("returns the same id on every later start", () => {
    const root = tempRoot();
    const id = loadOrCreateNodeId(root);
    expect(loadOrCreateNodeId(root)).toBe(id);
    expect(loadOrCreateNodeId(root)).toBe(id);
  });

  it("gives different nodes different ids", () => {
    expect(loadOrCreateNodeId(tempRoot())).not.toBe(loadOrCreateNodeId(tempRoot()));
  });

  it("creates a missing root directory", () => {
    const root = path.join(tempRoot(), "data", "node-1");
    expect(loadOrCreateNodeId(root)).toMatch(/^[0-9a-f]{32}$/);
  });

  it("accepts an id file written without a trailing newline", () => {
    const root = tempRoot();
    fs.writeFileSync(path.join(root, NODE_ID_FILE), "0123456789abcdef0123456789abcdef");
    expect(loadOrCreateNodeId(root)).toBe("0123456789abcdef0123456789abcdef");
  });

  it("refuses a malformed id file with E_IO naming it, and never replaces it", () => {
    for (const content of ["", "not an id\n", `${"ab".repeat(16)}x\n`, "AB".repeat(16), "ab".repeat(17)]) {
      const root = tempRoot();
      const file = path.join(root, NODE_ID_FILE);
      fs.writeFileSync(file, content);
      const err = thrownBy(() => loadOrCreateNodeId(root));
      expect(err).toMatchObject({ code: "E_IO", subject: file });
      expect((err as Error).message).toContain(file);
      expect(fs.readFileSync(file, "utf8")).toBe(content);
    }
  });

  it("reports an id path it cannot read as a typed error", () => {
    const root = tempRoot();
    const file = path.join(root, NODE_ID_FILE);
    fs.mkdirSync(file);
    expect(thrownBy(() => loadOrCreateNodeId(root))).toMatchObject({ code: "E_IO", subject: file });
  });
});

describe("an id issued by cluster add-node", () => {
  const issued = "0123456789abcdef0123456789abcdef";

  it("is taken on the first start, kept after it, and read back from the bundle", () => {
    const root = path.join(tempRoot(), "fresh");
    expect(loadOrCreateNodeId(root, issued)).toBe(issued);
    expect(loadOrCreateNodeId(root, issued)).toBe(issued);
    expect(loadOrCreateNodeId(root)).toBe(issued);
    const bundle = tempRoot();
    expect(readIssuedNodeId(bundle)).toBeUndefined();
    fs.writeFileSync(path.join(bundle, NODE_ID_FILE), `${issued}\n`);
    expect(readIssuedNodeId(bundle)).toBe(issued);
  });

  it("refuses a root that belongs to another node, naming both ids, and leaves it as it was", () => {
    const root = tempRoot();
    const own = loadOrCreateNodeId(root);
    expect(thrownBy(() => loadOrCreateNodeId(root, issued))).toMatchObject({
      code: "E_CONFIG",
      message: expect.stringContaining(`${own}, but this node's bundle was issued for node ${issued}`),
    });
    expect(loadOrCreateNodeId(root)).toBe(own);
  });
});
