import { describe, expect, it } from "vitest";
import { percentile, timedOperations } from "../../bench/e2e-transfers.ts";

describe("operation statistics", () => {
  it("takes nearest-rank percentiles", () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it("runs every operation once with at most the given concurrency", async () => {
    const seen: number[] = [];
    let running = 0;
    let most = 0;
    const stats = await timedOperations(50, 4, async (i) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setImmediate(r));
      seen.push(i);
      running--;
    });
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(most).toBe(4);
    expect(stats.opsPerSec).toBeGreaterThan(0);
    expect(stats.p99Ms).toBeGreaterThanOrEqual(stats.p50Ms);
  });

  it("fails when an operation fails", async () => {
    await expect(
      timedOperations(10, 3, async (i) => {
        if (i === 5) throw new Error("operation 5 failed");
      }),
    ).rejects.toThrow("operation 5 failed");
  });
});
