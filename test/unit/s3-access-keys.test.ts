import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isDmfsError } from "../../src/errors.ts";
import {
  accessKeysPath,
  createAccessKey,
  deleteAccessKey,
  loadAccessKeys,
} from "../../src/s3/access-keys.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "dmfs-s3keys-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("S3 access keys in the client bundle", () => {
  it("creates keys in AWS's shape, kept mode 0600, listed and deleted by id", async () => {
    expect(await loadAccessKeys(dir)).toEqual([]);
    const a = await createAccessKey(dir);
    const b = await createAccessKey(dir);
    expect(a.accessKeyId).toMatch(/^[A-Z0-9]{20}$/);
    expect(a.secretAccessKey).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(a.accessKeyId).not.toBe(b.accessKeyId);
    expect((await stat(accessKeysPath(dir))).mode & 0o777).toBe(0o600);
    expect((await loadAccessKeys(dir)).map((k) => k.accessKeyId)).toEqual([a.accessKeyId, b.accessKeyId]);
    await deleteAccessKey(dir, a.accessKeyId);
    expect((await loadAccessKeys(dir)).map((k) => k.accessKeyId)).toEqual([b.accessKeyId]);
    expect(JSON.parse(await readFile(accessKeysPath(dir), "utf8")).v).toBe(1);
  });

  it("deleting an unknown key is E_NOT_FOUND and keeps the others", async () => {
    const a = await createAccessKey(dir);
    const err = await deleteAccessKey(dir, "NOSUCHKEY").catch((e: unknown) => e);
    expect(isDmfsError(err, "E_NOT_FOUND")).toBe(true);
    expect((await loadAccessKeys(dir)).map((k) => k.accessKeyId)).toEqual([a.accessKeyId]);
  });

  it("a damaged key file is E_CONFIG naming the file", async () => {
    await writeFile(accessKeysPath(dir), "{ not json", { mode: 0o600 });
    const err = await loadAccessKeys(dir).catch((e: unknown) => e);
    expect(isDmfsError(err, "E_CONFIG")).toBe(true);
    expect((err as Error).message).toContain("s3-keys.json");
    await writeFile(accessKeysPath(dir), JSON.stringify({ v: 2, keys: [] }));
    expect(isDmfsError(await loadAccessKeys(dir).catch((e: unknown) => e), "E_CONFIG")).toBe(true);
  });
});
