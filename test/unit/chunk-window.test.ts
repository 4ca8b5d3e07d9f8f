import { describe, expect, it } from "vitest";
import { READ_WINDOW, UPLOAD_WINDOW, windowOf } from "../../src/client/chunk-window.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

describe("chunk window", () => {
  it("keeps 1 MiB chunks at the window they always had", () => {
    expect(windowOf(UPLOAD_WINDOW, MiB)).toBe(8);
    expect(windowOf(READ_WINDOW, MiB)).toBe(4);
  });

  it("keeps the same bytes in flight for small chunks", () => {
    expect(windowOf(UPLOAD_WINDOW, 64 * KiB)).toBe(128);
    expect(windowOf(READ_WINDOW, 64 * KiB)).toBe(64);
    expect(windowOf(UPLOAD_WINDOW, 256 * KiB)).toBe(32);
  });

  it("stays within its bounds for tiny and huge chunks", () => {
    expect(windowOf(UPLOAD_WINDOW, 4 * KiB)).toBe(UPLOAD_WINDOW.max);
    expect(windowOf(READ_WINDOW, 4 * KiB)).toBe(READ_WINDOW.max);
    expect(windowOf(UPLOAD_WINDOW, 16 * MiB)).toBe(UPLOAD_WINDOW.min);
    expect(windowOf(READ_WINDOW, 16 * MiB)).toBe(READ_WINDOW.min);
  });
});
