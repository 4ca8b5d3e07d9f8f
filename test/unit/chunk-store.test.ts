import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { blake3 } from "@noble/hashes/blake3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { isDmfsError } from "../../src/errors.ts";
import { ChunkStore } from "../../src/store/chunk-store.ts";
import { storeError } from "../../src/store/store-errors.ts";

const hash = async (bytes: Uint8Array) => bytesToHex(blake3(bytes));

function randomChunk(size: number): { id: string; bytes: Uint8Array } {
  const bytes = new Uint8Array(randomBytes(size));
  return { id: bytesToHex(blake3(bytes)), bytes };
}

/** Byte-for-byte equality; vitest's deep equality is far too slow on 256 KiB arrays. */
function sameBytes(actual: Uint8Array, expected: Uint8Array): boolean {
  return Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(expected);
}

function errorWithCode(code: string) {
  return (err: unknown) => isDmfsError(err) && err.code === code;
}

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "dmfs-chunk-store-"));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("ChunkStore", () => {
  it("stores a chunk at chunks/<id[0..2]>/<id> and reads it back verified", async () => {
    const store = await ChunkStore.open(root, { hash });
    const { id, bytes } = randomChunk(5000);

    expect(await store.put(id, bytes)).toBe("stored");

    const expectedPath = join(root, "chunks", id.slice(0, 2), id);
    expect(store.pathOf(id)).toBe(expectedPath);
    expect(new Uint8Array(await readFile(expectedPath))).toEqual(bytes);
    expect(await store.get(id)).toEqual(bytes);
    expect(await store.has(id)).toBe(true);
    expect(await readdir(join(root, "tmp"))).toEqual([]);
  });

  it("opens a store at a path that does not exist yet, creating its directories", async () => {
    const store = await ChunkStore.open(join(root, "a", "b"), { hash });
    const { id, bytes } = randomChunk(10);
    expect(await store.put(id, bytes)).toBe("stored");
    expect((await stat(join(root, "a", "b", "chunks"))).isDirectory()).toBe(true);
  });

  it("answers 'existed' for a chunk already stored, does not rewrite its file and renews its mtime", async () => {
    const store = await ChunkStore.open(root, { hash });
    const { id, bytes } = randomChunk(3000);
    await store.put(id, bytes);
    const old = new Date(Date.now() - 3_600_000);
    await utimes(store.pathOf(id), old, old);
    const before = await stat(store.pathOf(id));

    expect(await store.put(id, bytes)).toBe("existed");

    const after = await stat(store.pathOf(id));
    expect(after.ino).toBe(before.ino);
    // Garbage collection measures age by mtime: a write of a stored chunk holds it like a new one.
    expect(after.mtimeMs).toBeGreaterThan(Date.now() - 60_000);
    expect((await store.stats()).chunks).toBe(1);
  });

  it("deletes a chunk only when it is older than the cutoff, and touch renews it", async () => {
    const store = await ChunkStore.open(root, { hash });
    const { id, bytes } = randomChunk(3000);
    await store.put(id, bytes);
    const old = new Date(Date.now() - 3_600_000);
    await utimes(store.pathOf(id), old, old);
    expect(await store.touch(id)).toBe(true);
    expect(await store.deleteIfOlderThan(id, Date.now() - 60_000)).toBe(0);
    await utimes(store.pathOf(id), old, old);
    expect(await store.deleteIfOlderThan(id, Date.now() - 60_000)).toBe(3000);
    expect(await store.has(id)).toBe(false);
    expect(await store.touch(id)).toBe(false);
    expect(await store.deleteIfOlderThan(id, Date.now())).toBe(0);
    expect((await store.stats()).chunks).toBe(0);
  });

  it("quarantines an existing copy that rotted and rewrites it from the good bytes ('replaced')", async () => {
    const store = await ChunkStore.open(root, { hash });
    const { id, bytes } = randomChunk(3000);
    await store.put(id, bytes);
    const rotten = Buffer.from(bytes);
    rotten[1234] = (rotten[1234] ?? 0) ^ 0x01;
    await writeFile(store.pathOf(id), rotten);

    expect(await store.put(id, bytes, { verified: true })).toBe("replaced");

    expect(sameBytes(await store.get(id), bytes)).toBe(true);
    const quarantined = await readdir(join(root, "quarantine"));
    expect(quarantined).toHaveLength(1);
    expect(sameBytes(await readFile(join(root, "quarantine", quarantined[0] ?? "")), rotten)).toBe(true);
    expect(await store.stats()).toMatchObject({ chunks: 1, bytes: 3000 });
  });

  it("replaces an existing copy that was truncated", async () => {
    const store = await ChunkStore.open(root, { hash });
    const { id, bytes } = randomChunk(3000);
    await store.put(id, bytes);
    await writeFile(store.pathOf(id), bytes.subarray(0, 100));

    expect(await store.put(id, bytes)).toBe("replaced");

    expect(sameBytes(await store.get(id), bytes)).toBe(true);
    expect(await readdir(join(root, "quarantine"))).toHaveLength(1);
  });

  it("keeps one copy and counts it once when the same chunk is put concurrently", async () => {
    const store = await ChunkStore.open(root, { hash });
    const { id, bytes } = randomChunk(2000);

    const outcomes = await Promise.all(Array.from({ length: 5 }, () => store.put(id, bytes)));

    expect(outcomes.sort()).toEqual(["existed", "existed", "existed", "existed", "stored"]);
    expect(await store.stats()).toMatchObject({ chunks: 1, bytes: 2000 });
  });

  it("stores many different chunks concurrently, sharing new shard directories safely", async () => {
    const store = await ChunkStore.open(root, { hash });
    const chunks = Array.from({ length: 40 }, (_, i) => randomChunk(100 + i));

    await Promise.all(chunks.map(({ id, bytes }) => store.put(id, bytes)));

    for (const { id, bytes } of chunks) expect(await store.get(id)).toEqual(bytes);
    expect((await store.stats()).chunks).toBe(40);
  });

  it("makes its 256 shard directories when it opens, and remakes one removed from outside", async () => {
    const store = await ChunkStore.open(root, { hash });
    const shards = (await readdir(join(root, "chunks"))).sort();
    expect(shards).toHaveLength(256);
    expect(shards[0]).toBe("00");
    expect(shards[255]).toBe("ff");
    const { id, bytes } = randomChunk(100);
    await rm(join(root, "chunks", id.slice(0, 2)), { recursive: true });
    expect(await store.put(id, bytes)).toBe("stored");
    expect(sameBytes(await store.get(id), bytes)).toBe(true);
  });

  it("moves chunks stored in the earlier two-level layout up into their shard when it opens", async () => {
    const chunks = Array.from({ length: 5 }, (_, i) => randomChunk(200 + i));
    for (const { id, bytes } of chunks) {
      const old = join(root, "chunks", id.slice(0, 2), id.slice(2, 4));
      await mkdir(old, { recursive: true });
      await writeFile(join(old, id), bytes);
    }
    // Something that is not a chunk stays where it is, and so does the directory holding it.
    const stray = join(root, "chunks", "ab", "cd", "notes.txt");
    await mkdir(dirname(stray), { recursive: true });
    await writeFile(stray, "keep me");
    const store = await ChunkStore.open(root, { hash });
    for (const { id, bytes } of chunks) {
      expect(sameBytes(await readFile(join(root, "chunks", id.slice(0, 2), id)), bytes)).toBe(true);
      expect(sameBytes(await store.get(id), bytes)).toBe(true);
    }
    expect((await store.stats()).chunks).toBe(5);
    expect(await readFile(stray, "utf8")).toBe("keep me");
    const shardOfFirst = join(root, "chunks", chunks[0]?.id.slice(0, 2) ?? "");
    expect((await readdir(shardOfFirst)).every((name) => name.length === 64 || name === "cd")).toBe(true);
  });

  it("rejects bytes that do not hash to the id with E_CHUNK_CORRUPT and stores nothing", async () => {
    const store = await ChunkStore.open(root, { hash });
    const { id } = randomChunk(100);
    const other = randomChunk(100);

    await expect(store.put(id, other.bytes)).rejects.toSatisfy(errorWithCode("E_CHUNK_CORRUPT"));

    expect(await store.has(id)).toBe(false);
    expect(await readdir(join(root, "tmp"))).toEqual([]);
    expect((await store.stats()).chunks).toBe(0);
  });

  it("skips hashing on put when the caller has already verified the bytes", async () => {
    let hashCalls = 0;
    const countingHash = async (bytes: Uint8Array) => {
      hashCalls += 1;
      return hash(bytes);
    };
    const store = await ChunkStore.open(root, { hash: countingHash });
    const { id, bytes } = randomChunk(100);

    await store.put(id, bytes, { verified: true });
    expect(hashCalls).toBe(0);
    await store.get(id);
    expect(hashCalls).toBe(1);
  });

  it("reports an id that is not stored as E_NOT_FOUND", async () => {
    const store = await ChunkStore.open(root, { hash });
    const { id } = randomChunk(10);

    await expect(store.get(id)).rejects.toSatisfy(errorWithCode("E_NOT_FOUND"));
    await expect(store.getUnverified(id)).rejects.toSatisfy(errorWithCode("E_NOT_FOUND"));
    await expect(store.quarantine(id)).rejects.toSatisfy(errorWithCode("E_NOT_FOUND"));
    expect(await store.has(id)).toBe(false);
    expect(await store.delete(id)).toBe(false);
  });

  it("rejects malformed ids with E_INVALID_ID before touching the file system", async () => {
    const store = await ChunkStore.open(root, { hash });
    const valid = randomChunk(10);
    const malformed = [
      "",
      valid.id.toUpperCase(),
      valid.id.slice(1),
      `${valid.id}0`,
      `../../${valid.id.slice(6)}`,
      `${valid.id.slice(0, 10)}/${valid.id.slice(11)}`,
    ];

    for (const id of malformed) {
      const invalid = errorWithCode("E_INVALID_ID");
      await expect(store.put(id, valid.bytes, { verified: true })).rejects.toSatisfy(invalid);
      await expect(store.get(id)).rejects.toSatisfy(invalid);
      await expect(store.getUnverified(id)).rejects.toSatisfy(invalid);
      await expect(store.has(id)).rejects.toSatisfy(invalid);
      await expect(store.delete(id)).rejects.toSatisfy(invalid);
      await expect(store.quarantine(id)).rejects.toSatisfy(invalid);
      expect(() => store.pathOf(id)).toThrow(/invalid chunk id/);
    }
    expect((await readdir(root)).sort()).toEqual(["chunks", "tmp"]);
    const shards = await readdir(join(root, "chunks"));
    expect(shards).toHaveLength(256);
    for (const shard of shards) expect(await readdir(join(root, "chunks", shard))).toEqual([]);
  });

  it("detects a chunk corrupted on disk, naming its file, and quarantines it for inspection", async () => {
    const store = await ChunkStore.open(root, { hash });
    const { id, bytes } = randomChunk(4000);
    await store.put(id, bytes);
    const path = store.pathOf(id);
    const damaged = new Uint8Array(bytes);
    damaged[1234] = (damaged[1234] ?? 0) ^ 0x01;
    await writeFile(path, damaged);

    const failure = await store.get(id).catch((err: unknown) => err);
    expect(isDmfsError(failure, "E_CHUNK_CORRUPT")).toBe(true);
    expect((failure as Error).message).toContain(path);
    expect(await store.getUnverified(id)).toEqual(damaged);

    await store.quarantine(id);

    expect(await store.has(id)).toBe(false);
    expect((await store.stats()).chunks).toBe(0);
    const quarantined = await readdir(join(root, "quarantine"));
    expect(quarantined).toHaveLength(1);
    expect(quarantined[0]?.startsWith(id)).toBe(true);
    expect(new Uint8Array(await readFile(join(root, "quarantine", quarantined[0] ?? "")))).toEqual(damaged);
    // A good replica can then take its place.
    expect(await store.put(id, bytes)).toBe("stored");
    expect(await store.get(id)).toEqual(bytes);
  });

  it("deletes a chunk and says whether it was there", async () => {
    const store = await ChunkStore.open(root, { hash });
    const kept = randomChunk(700);
    const dropped = randomChunk(300);
    await store.put(kept.id, kept.bytes);
    await store.put(dropped.id, dropped.bytes);

    expect(await store.delete(dropped.id)).toBe(true);
    expect(await store.delete(dropped.id)).toBe(false);

    expect(await store.has(dropped.id)).toBe(false);
    expect(await store.get(kept.id)).toEqual(kept.bytes);
    expect(await store.stats()).toMatchObject({ chunks: 1, bytes: 700 });
  });

  it("lists every stored id and ignores files that are not chunks in their own shard", async () => {
    const store = await ChunkStore.open(root, { hash });
    const chunks = Array.from({ length: 25 }, (_, i) => randomChunk(50 + i));
    for (const { id, bytes } of chunks) await store.put(id, bytes);
    const first = chunks[0]?.id ?? "";
    const shardDir = dirname(store.pathOf(first));
    await writeFile(join(shardDir, "notes.txt"), "not a chunk");
    await mkdir(join(root, "chunks", "zz"));
    const idFromAnotherShard = (first.startsWith("00") ? "11" : "00") + first.slice(2);
    await writeFile(join(shardDir, idFromAnotherShard), "stray");

    const listed: string[] = [];
    for await (const id of store.list()) listed.push(id);

    expect(listed.sort()).toEqual(chunks.map((c) => c.id).sort());
    const reopened = await ChunkStore.open(root, { hash });
    expect((await reopened.stats()).chunks).toBe(25);
  });

  it("counts chunks and bytes once at open and keeps the counts current", async () => {
    const store = await ChunkStore.open(root, { hash });
    const chunks = Array.from({ length: 12 }, (_, i) => randomChunk(1000 + i));
    for (const { id, bytes } of chunks) await store.put(id, bytes);
    const totalBytes = chunks.reduce((sum, c) => sum + c.bytes.byteLength, 0);

    expect(await store.stats()).toMatchObject({ chunks: 12, bytes: totalBytes });
    const reopened = await ChunkStore.open(root, { hash });
    const stats = await reopened.stats();
    expect(stats).toMatchObject({ chunks: 12, bytes: totalBytes });
    expect(stats.diskFree).toBeGreaterThan(0);
  });

  it("removes half-written temp files left by a crash when it opens, never counting them", async () => {
    const store = await ChunkStore.open(root, { hash });
    const { id, bytes } = randomChunk(500);
    await store.put(id, bytes);
    await writeFile(join(root, "tmp", "0123abcd"), randomBytes(100));
    await mkdir(join(root, "tmp", "odd-directory"));

    const reopened = await ChunkStore.open(root, { hash });

    expect(await readdir(join(root, "tmp"))).toEqual([]);
    expect(await reopened.stats()).toMatchObject({ chunks: 1, bytes: 500 });
  });

  it("returns chunk bytes that own their ArrayBuffer, so they can be transferred to a worker", async () => {
    const store = await ChunkStore.open(root, { hash });
    const { id, bytes } = randomChunk(9000);
    await store.put(id, bytes);

    const read = await store.getUnverified(id);
    expect([read.byteOffset, read.buffer.byteLength]).toEqual([0, read.byteLength]);
    const moved = structuredClone(read, { transfer: [read.buffer] });
    expect(read.byteLength).toBe(0);
    expect(moved).toEqual(bytes);
  });
});

describe("storeError", () => {
  it.each([
    ["ENOSPC", "E_NO_SPACE", "no space left on the device"],
    ["EDQUOT", "E_NO_SPACE", "no space left on the device"],
    ["EACCES", "E_PERMISSION", "permission denied"],
    ["EPERM", "E_PERMISSION", "permission denied"],
    ["EROFS", "E_READ_ONLY", "read-only file system"],
    ["EIO", "E_IO", "input/output error (EIO)"],
    ["EISDIR", "E_IO", "input/output error (EISDIR)"],
  ])("maps %s to %s with a message naming the operation and the path", (errno, code, reason) => {
    const cause = Object.assign(new Error("system error"), { code: errno });
    const err = storeError(cause, "write chunk file", "/x/y");
    expect(err.code).toBe(code);
    expect(err.message).toBe(`cannot write chunk file /x/y: ${reason}`);
    expect(err.subject).toBe("/x/y");
    expect(err.cause).toBe(cause);
  });

  it("passes a DmfsError through unchanged", () => {
    const original = storeError(Object.assign(new Error("x"), { code: "ENOSPC" }), "write chunk file", "/a");
    expect(storeError(original, "sync directory", "/b")).toBe(original);
  });
});

// Real disk-full and read-only conditions need a small tmpfs; mounting needs root (or CAP_SYS_ADMIN).
function tryMountTmpfs(): { dir: string } | { reason: string } {
  const dir = execFileSync("mktemp", ["-d", join(tmpdir(), "dmfs-tmpfs-XXXXXX")], {
    encoding: "utf8",
  }).trim();
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", dir], { stdio: "pipe" });
    return { dir };
  } catch (err) {
    execFileSync("rmdir", [dir]);
    const reason = `cannot mount a tmpfs here (${(err as Error).message.split("\n")[0]})`;
    console.warn(`chunk-store disk tests skipped: ${reason}`);
    return { reason };
  }
}

const smallDisk = tryMountTmpfs();
const smallDiskDir = "dir" in smallDisk ? smallDisk.dir : undefined;

afterAll(() => {
  if (smallDiskDir === undefined) return;
  execFileSync("umount", [smallDiskDir]);
  execFileSync("rmdir", [smallDiskDir]);
});

describe.skipIf(smallDiskDir === undefined)(
  "ChunkStore on a real 2 MiB tmpfs (skipped if mount is not permitted)",
  () => {
    const disk = smallDiskDir ?? "";

    afterEach(async () => {
      execFileSync("mount", ["-o", "remount,rw", disk]);
      for (const name of await readdir(disk)) await rm(join(disk, name), { recursive: true, force: true });
    });

    it("reports a full disk as E_NO_SPACE naming the file, removes the temp file and keeps earlier chunks", async () => {
      const store = await ChunkStore.open(join(disk, "node"), { hash });
      const stored: { id: string; bytes: Uint8Array }[] = [];
      let failure: unknown;
      let rejected: { id: string; bytes: Uint8Array } | undefined;
      for (let i = 0; i < 16 && failure === undefined; i++) {
        const chunk = randomChunk(256 * 1024);
        try {
          await store.put(chunk.id, chunk.bytes);
          stored.push(chunk);
        } catch (err) {
          failure = err;
          rejected = chunk;
        }
      }

      expect(isDmfsError(failure, "E_NO_SPACE")).toBe(true);
      expect((failure as Error).message).toMatch(
        new RegExp(
          `^cannot write chunk file ${join(disk, "node", "tmp")}/[0-9a-f]+: no space left on the device$`,
        ),
      );
      expect(stored.length).toBeGreaterThan(2);
      expect(await readdir(join(disk, "node", "tmp"))).toEqual([]);
      for (const { id, bytes } of stored) expect(sameBytes(await store.get(id), bytes)).toBe(true);
      expect((await store.stats()).chunks).toBe(stored.length);

      // Freeing space lets the rejected chunk in.
      const [oldest] = stored;
      if (oldest === undefined || rejected === undefined) throw new Error("the disk never filled up");
      await store.delete(oldest.id);
      expect(await store.put(rejected.id, rejected.bytes)).toBe("stored");
      expect(sameBytes(await store.get(rejected.id), rejected.bytes)).toBe(true);
    });

    it("reports a read-only file system as E_READ_ONLY and still serves earlier chunks", async () => {
      const store = await ChunkStore.open(join(disk, "node"), { hash });
      const earlier = randomChunk(20_000);
      await store.put(earlier.id, earlier.bytes);
      execFileSync("mount", ["-o", "remount,ro", disk]);
      const later = randomChunk(20_000);

      const failure = await store.put(later.id, later.bytes).catch((err: unknown) => err);

      expect(isDmfsError(failure, "E_READ_ONLY")).toBe(true);
      expect((failure as Error).message).toMatch(/^cannot write chunk file .*: read-only file system$/);
      expect(await store.has(later.id)).toBe(false);
      expect(await store.get(earlier.id)).toEqual(earlier.bytes);
    });
  },
);

const isRoot = process.getuid?.() === 0;

it.skipIf(isRoot)(
  "reports a shard directory it may not write as E_PERMISSION (skipped as root: root bypasses permissions)",
  async () => {
    const store = await ChunkStore.open(root, { hash });
    const first = randomChunk(100);
    await store.put(first.id, first.bytes);
    const shardDir = dirname(store.pathOf(first.id));
    // An id in the same shard; `verified` skips the hash check so it need not match its bytes.
    const sameShardId = first.id.slice(0, 4) + randomChunk(1).id.slice(4);
    await chmod(shardDir, 0o500);
    try {
      const failure = await store
        .put(sameShardId, first.bytes, { verified: true })
        .catch((err: unknown) => err);
      expect(isDmfsError(failure, "E_PERMISSION")).toBe(true);
      expect((failure as Error).message).toContain(shardDir);
      expect(await readdir(join(root, "tmp"))).toEqual([]);
      expect(await store.get(first.id)).toEqual(first.bytes);
    } finally {
      await chmod(shardDir, 0o700);
    }
  },
);
