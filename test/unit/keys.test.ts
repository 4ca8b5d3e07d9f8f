import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { blake3 } from "@noble/hashes/blake3.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  DATA_KEY_BYTES,
  deriveKeys,
  generateDataKey,
  KEY_CONTEXTS,
  loadDataKey,
} from "../../src/crypto/keys.ts";
import { DmfsError } from "../../src/errors.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "dmfs-keys-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function keyFileError(promise: Promise<unknown>): Promise<DmfsError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DmfsError);
  expect((err as DmfsError).code).toBe("E_KEY_FILE");
  return err as DmfsError;
}

describe("the data key file", () => {
  it("is created with 32 random bytes, readable by its owner only, and loads back", async () => {
    const path = join(dir, "data.key");
    const key = await generateDataKey(path);
    expect(key).toHaveLength(DATA_KEY_BYTES);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(Buffer.from(await loadDataKey(path)).equals(Buffer.from(key))).toBe(true);
    expect(Buffer.from(await generateDataKey(join(dir, "other.key"))).equals(Buffer.from(key))).toBe(false);
  });

  it("is never overwritten: creating it again fails, names the path and keeps the old key", async () => {
    const path = join(dir, "data.key");
    const key = await generateDataKey(path);
    const err = await keyFileError(generateDataKey(path));
    expect(err.message).toContain(path);
    expect(err.message).toContain("already exists");
    expect(err.subject).toBe(path);
    expect(Buffer.from(await readFile(path)).equals(Buffer.from(key))).toBe(true);
  });

  it("cannot be created in a folder that does not exist", async () => {
    const path = join(dir, "missing", "data.key");
    const err = await keyFileError(generateDataKey(path));
    expect(err.message).toContain(path);
  });

  it("is refused when missing, with the path in the message", async () => {
    const path = join(dir, "nowhere.key");
    const err = await keyFileError(loadDataKey(path));
    expect(err.message).toBe(`the data key file ${path} does not exist`);
  });

  it.each([0, 1, 31, 33, 64])("is refused when it holds %i bytes instead of 32", async (length) => {
    const path = join(dir, "data.key");
    await writeFile(path, Buffer.alloc(length, 7), { mode: 0o600 });
    const err = await keyFileError(loadDataKey(path));
    expect(err.message).toContain(path);
    expect(err.message).toContain(`holds ${length} bytes`);
  });

  it.each([0o640, 0o604, 0o620, 0o602, 0o610, 0o601, 0o666])(
    "is refused when group or others have any access (mode %o)",
    async (mode) => {
      const path = join(dir, "data.key");
      await writeFile(path, Buffer.alloc(32, 7));
      await chmod(path, mode);
      const err = await keyFileError(loadDataKey(path));
      expect(err.message).toContain(path);
      expect(err.message).toContain(`mode 0${mode.toString(8)}`);
    },
  );

  it("is accepted read-only for its owner (mode 0400)", async () => {
    const path = join(dir, "data.key");
    await writeFile(path, Buffer.alloc(32, 9));
    await chmod(path, 0o400);
    expect(Buffer.from(await loadDataKey(path)).equals(Buffer.alloc(32, 9))).toBe(true);
  });

  it("is refused when the path is a directory", async () => {
    const path = join(dir, "data.key");
    await mkdir(path, { mode: 0o700 });
    const err = await keyFileError(loadDataKey(path));
    expect(err.message).toContain("not a regular file");
  });
});

describe("subkey derivation", () => {
  const dataKey = Uint8Array.from({ length: 32 }, (_, i) => i);

  it("gives five distinct 32-byte subkeys, the same ones every time", () => {
    const keys = deriveKeys(dataKey);
    const hexes = Object.values(keys).map((k) => bytesToHex(k));
    expect(Object.keys(keys).sort()).toEqual(["chunk", "enc", "file", "meta", "path"]);
    for (const k of Object.values(keys)) expect(k).toHaveLength(32);
    expect(new Set(hexes).size).toBe(5);
    expect(Object.values(deriveKeys(dataKey)).map((k) => bytesToHex(k))).toEqual(hexes);
  });

  it("is BLAKE3 derive_key with the exported context strings", () => {
    const keys = deriveKeys(dataKey);
    for (const [purpose, context] of Object.entries(KEY_CONTEXTS)) {
      const expected = blake3(dataKey, { context: utf8ToBytes(context) });
      expect(bytesToHex(keys[purpose as keyof typeof KEY_CONTEXTS])).toBe(bytesToHex(expected));
    }
  });

  it("keeps the data format: known subkeys for a known data key", () => {
    // Pinned values: a change here means existing data can no longer be read.
    const hexes = Object.fromEntries(Object.entries(deriveKeys(dataKey)).map(([p, k]) => [p, bytesToHex(k)]));
    expect(hexes).toEqual({
      chunk: "547df425a4790f186b4403b04ec30b0222ffdeb868cf9fb413e137c73d1ebed8",
      enc: "7f86fa612b36403d19bc589d19cd705a0b63cb62cbdda7b791dff7fdc6a7ec9c",
      file: "6a89d8687c2b7c1911705d9b466adab3c0d9baf9a670d76407b09583ebe115ea",
      path: "9ae10a70c7720e3b83d694c60d1f139f7f73756fd495797d65b98eedfd63a8ba",
      meta: "248cefff4f034429d4d516defd12e0a626cc4010253e39fe4ff43f9c950ed64c",
    });
  });

  it("refuses a data key that is not 32 bytes", () => {
    expect(() => deriveKeys(new Uint8Array(16))).toThrow(DmfsError);
  });
});
