import { describe, expect, it } from "vitest";
import { DeadBufferSweeper, SWEEP_EVERY_BYTES } from "../../src/workers/dead-buffer-sweeper.ts";

describe("DeadBufferSweeper", () => {
  it("asks for one young-generation collection per SWEEP_EVERY_BYTES of dropped buffers", () => {
    const calls: unknown[] = [];
    const sweeper = new DeadBufferSweeper(((options: unknown) => {
      calls.push(options);
    }) as NodeJS.GCFunction);
    const MiB = 1024 * 1024;
    for (let i = 0; i < (3 * SWEEP_EVERY_BYTES) / MiB - 1; i++) sweeper.dropped(MiB);
    expect(calls).toEqual([{ type: "minor" }, { type: "minor" }]);
    sweeper.dropped(MiB);
    expect(calls).toHaveLength(3);
  });

  it("does nothing where gc is not exposed", () => {
    const sweeper = new DeadBufferSweeper(undefined);
    expect(() => sweeper.dropped(10 * SWEEP_EVERY_BYTES)).not.toThrow();
  });
});
