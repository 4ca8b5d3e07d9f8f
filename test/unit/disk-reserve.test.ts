// The free-space reserve against a fake disk: when a node counts as full, when it has room again, that
// it says so once per crossing, and that copies written at once never share the same room.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { blake3 } from "@noble/hashes/blake3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseReserve } from "../../src/config/config.ts";
import { isDmfsError } from "../../src/errors.ts";
import { ChunkStore } from "../../src/store/chunk-store.ts";
import { DiskReserve, reserveBytesOf } from "../../src/store/disk-reserve.ts";

const MIB = 1024 * 1024;

/** A disk of `totalBytes` whose free space the test sets. */
function fakeDisk(totalBytes: number, freeBytes: number) {
  const disk = { totalBytes, freeBytes, reads: 0 };
  const changes: boolean[] = [];
  const reserve = (setting: { percent: number } | { bytes: number }, copyBytes = MIB) =>
    new DiskReserve({
      reserve: setting,
      copyBytes,
      readSpace: async () => {
        disk.reads++;
        return { totalBytes: disk.totalBytes, freeBytes: disk.freeBytes };
      },
      onChange: (full) => changes.push(full),
    });
  return { disk, changes, reserve };
}

describe("free-space reserve", () => {
  it("is 5% of the disk by default, or a fixed number of bytes", () => {
    expect(reserveBytesOf({ percent: 5 }, 64 * MIB)).toBe(Math.ceil(3.2 * MIB));
    expect(reserveBytesOf({ bytes: 123 }, 64 * MIB)).toBe(123);
    expect(parseReserve("5%")).toEqual({ percent: 5 });
    expect(parseReserve("2GiB")).toEqual({ bytes: 2 * 1024 * MIB });
    expect(parseReserve(0)).toEqual({ bytes: 0 });
    for (const bad of ["51%", "-1%", "lots", -5, "5 %%", null, "99999999999999999999GiB"])
      expect(parseReserve(bad)).toBeUndefined();
  });

  it("reads any reserve value without throwing, and accepts only shares of 0..50% and whole sizes", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.double(), fc.integer(), fc.constant(null), fc.object()),
        (value) => {
          const r = parseReserve(value);
          if (r === undefined) return true;
          return "percent" in r
            ? r.percent >= 0 && r.percent <= 50
            : Number.isSafeInteger(r.bytes) && r.bytes >= 0;
        },
      ),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 2 ** 30 }), (percent, bytes) => {
        expect(parseReserve(`${percent}%`)).toEqual({ percent });
        expect(parseReserve(String(bytes))).toEqual({ bytes });
        expect(parseReserve(`${bytes}MiB`)).toEqual({ bytes: bytes * MIB });
      }),
    );
  });

  it("counts the node full once a copy would no longer fit above the reserve, and says so once", async () => {
    const { disk, changes, reserve } = fakeDisk(100 * MIB, 20 * MIB);
    const r = reserve({ bytes: 10 * MIB });
    expect(await r.refresh()).toBe(false);
    disk.freeBytes = 11 * MIB - 1; // less than one 1 MiB copy above the reserve
    expect(await r.refresh()).toBe(true);
    expect(await r.refresh()).toBe(true);
    expect(changes).toEqual([true]);
    expect(r.figures()).toEqual({ reserveBytes: 10 * MIB, freeBytes: 11 * MIB - 1 });
  });

  it("has room again only once two copies fit, so a disk at the edge does not flap", async () => {
    const { disk, changes, reserve } = fakeDisk(100 * MIB, 10 * MIB);
    const r = reserve({ bytes: 10 * MIB });
    expect(await r.refresh()).toBe(true);
    disk.freeBytes = 11 * MIB; // one copy fits: not enough to leave full
    expect(await r.refresh()).toBe(true);
    disk.freeBytes = 12 * MIB;
    expect(await r.refresh()).toBe(false);
    disk.freeBytes = 11.5 * MIB; // back under the leaving mark but above the entering one: stays
    expect(await r.refresh()).toBe(false);
    expect(changes).toEqual([true, false]);
  });

  it("refuses a copy below the reserve with E_DISK_FULL and a sentence without any path", async () => {
    const { reserve } = fakeDisk(64 * MIB, 3 * MIB);
    const r = reserve({ percent: 5 });
    const err = await r.claim(MIB).catch((e: unknown) => e);
    expect(isDmfsError(err, "E_DISK_FULL")).toBe(true);
    expect((err as Error).message).toMatch(
      /below its free-space reserve \(3\.0 MiB free, reserve 3\.2 MiB\)/,
    );
    expect((err as Error).message).not.toContain("/");
  });

  it("holds the room of copies being written, so copies claimed at once never share it", async () => {
    const { reserve } = fakeDisk(100 * MIB, 15 * MIB);
    const r = reserve({ bytes: 10 * MIB });
    // 5 MiB above the reserve: four 1 MiB copies fit with one left over for the full mark; eight try.
    const outcomes = await Promise.allSettled(Array.from({ length: 8 }, () => r.claim(MIB)));
    const held = outcomes.filter((o) => o.status === "fulfilled");
    expect(held.length).toBeGreaterThanOrEqual(4);
    expect(held.length).toBeLessThanOrEqual(5);
    // While held, the room is taken even though the fake disk has not seen a byte written.
    expect(await r.refresh()).toBe(true);
    for (const o of held) (o as PromiseFulfilledResult<() => void>).value();
    // Released (as if every write failed): the room is back.
    expect(await r.refresh()).toBe(false);
    expect(r.figures().freeBytes).toBe(15 * MIB);
  });

  it("shares one statfs among the copies claimed while it is under way", async () => {
    const { disk, reserve } = fakeDisk(100 * MIB, 50 * MIB);
    const r = reserve({ bytes: 10 * MIB });
    const releases = await Promise.all(Array.from({ length: 16 }, () => r.claim(MIB)));
    expect(disk.reads).toBe(1);
    expect(r.figures().freeBytes).toBe(34 * MIB);
    for (const release of releases) release();
    // The next claim reads the disk again: the disk's change is seen.
    disk.freeBytes = 10 * MIB;
    await expect(r.claim(MIB)).rejects.toSatisfy((err) => isDmfsError(err, "E_DISK_FULL"));
    expect(disk.reads).toBe(2);
  });

  it("is off with a reserve of 0: nothing is refused, however little is free", async () => {
    const { changes, reserve } = fakeDisk(64 * MIB, 0);
    const r = reserve({ bytes: 0 });
    expect(await r.refresh()).toBe(false);
    const release = await r.claim(MIB);
    release();
    expect(changes).toEqual([]);
  });

  it("makes the chunk store refuse new copies but keep taking copies it already holds", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dmfs-reserve-"));
    try {
      const { disk, reserve } = fakeDisk(100 * MIB, 50 * MIB);
      const store = await ChunkStore.open(dir, {
        hash: async (b) => bytesToHex(blake3(b)),
        reserve: reserve({ bytes: 10 * MIB }, 4096),
      });
      const a = new Uint8Array(4096).fill(1);
      const b = new Uint8Array(4096).fill(2);
      const idA = bytesToHex(blake3(a));
      const idB = bytesToHex(blake3(b));
      expect(await store.put(idA, a)).toBe("stored");
      disk.freeBytes = 10 * MIB;
      await expect(store.put(idB, b)).rejects.toMatchObject({ code: "E_DISK_FULL" });
      expect(await store.has(idB)).toBe(false);
      // A copy already held costs no space: an upload of the same content still counts it.
      expect(await store.put(idA, a)).toBe("existed");
      // Reads and deletes go on while full.
      expect(Buffer.from(await store.get(idA)).equals(Buffer.from(a))).toBe(true);
      expect(await store.delete(idA)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
