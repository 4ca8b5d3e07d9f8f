import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareHlc, HybridClock, MAX_CLOCK_AHEAD_MS, MAX_LOGICAL } from "../../src/cluster/hlc.ts";
import type { Hlc } from "../../src/cluster/types.ts";

/** A wall clock that returns the given readings in turn, then stays at the last one. */
function scriptedClock(readings: readonly number[]): () => number {
  let next = 0;
  return () => readings[Math.min(next++, readings.length - 1)] ?? 0;
}

const wallMs = fc.integer({ min: 0, max: 2 ** 42 });
const remoteStamp = fc.record({ wall: wallMs, logical: fc.integer({ min: 0, max: MAX_LOGICAL }) });
const isValid = (hlc: Hlc) => Number.isInteger(hlc.logical) && hlc.logical >= 0 && hlc.logical <= MAX_LOGICAL;

describe("compareHlc", () => {
  it("orders by wall time, then by the logical counter", () => {
    expect(compareHlc({ wall: 1, logical: 9 }, { wall: 2, logical: 0 })).toBeLessThan(0);
    expect(compareHlc({ wall: 2, logical: 1 }, { wall: 2, logical: 0 })).toBeGreaterThan(0);
    expect(compareHlc({ wall: 2, logical: 1 }, { wall: 2, logical: 1 })).toBe(0);
  });
});

describe("HybridClock", () => {
  it("follows the wall clock while it moves forward", () => {
    const clock = new HybridClock(scriptedClock([1_000, 1_005, 1_010]));
    expect([clock.tick(), clock.tick(), clock.tick()]).toEqual([
      { wall: 1_000, logical: 0 },
      { wall: 1_005, logical: 0 },
      { wall: 1_010, logical: 0 },
    ]);
  });

  it("keeps counting from its last stamp when the wall clock steps back", () => {
    const clock = new HybridClock(scriptedClock([5_000, 4_000, 4_500, 5_001]));
    expect([clock.tick(), clock.tick(), clock.tick(), clock.tick()]).toEqual([
      { wall: 5_000, logical: 0 },
      { wall: 5_000, logical: 1 },
      { wall: 5_000, logical: 2 },
      { wall: 5_001, logical: 0 },
    ]);
  });

  it("moves to the next millisecond when the logical counter would pass 65535", () => {
    const clock = new HybridClock(() => 7_000);
    let last = clock.tick();
    for (let i = 0; i < MAX_LOGICAL; i++) last = clock.tick();
    expect(last).toEqual({ wall: 7_000, logical: MAX_LOGICAL });
    expect(clock.tick()).toEqual({ wall: 7_001, logical: 0 });
    expect(clock.tick()).toEqual({ wall: 7_001, logical: 1 });
  });

  it("observing a stamp with a full counter also moves to the next millisecond", () => {
    const clock = new HybridClock(() => 10);
    expect(clock.observe({ wall: 20, logical: MAX_LOGICAL })).toEqual({ wall: 21, logical: 0 });
  });

  it("ticks strictly increase whatever the wall clock does", () => {
    fc.assert(
      fc.property(fc.array(wallMs, { minLength: 1, maxLength: 200 }), (readings) => {
        const clock = new HybridClock(scriptedClock(readings));
        let previous = clock.tick();
        for (let i = 1; i < readings.length; i++) {
          const next = clock.tick();
          expect(compareHlc(next, previous)).toBeGreaterThan(0);
          expect(isValid(next)).toBe(true);
          previous = next;
        }
      }),
    );
  });

  it("a stamp after observing is later than the remote stamp and than every earlier stamp", () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant("tick" as const), wall: wallMs }),
      fc.record({ kind: fc.constant("observe" as const), wall: wallMs, remote: remoteStamp }),
    );
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 100 }), (steps) => {
        const clock = new HybridClock(scriptedClock(steps.map((s) => s.wall)));
        let previous: Hlc | undefined;
        for (const s of steps) {
          if (s.kind === "observe" && s.remote.wall - s.wall > MAX_CLOCK_AHEAD_MS) {
            expect(() => clock.observe(s.remote)).toThrow(expect.objectContaining({ code: "E_CLOCK_AHEAD" }));
            continue;
          }
          const stamp = s.kind === "tick" ? clock.tick() : clock.observe(s.remote);
          if (s.kind === "observe") expect(compareHlc(stamp, s.remote)).toBeGreaterThan(0);
          if (previous) expect(compareHlc(stamp, previous)).toBeGreaterThan(0);
          expect(isValid(stamp)).toBe(true);
          // Never behind the wall clock: stamps stay close to real time.
          expect(stamp.wall).toBeGreaterThanOrEqual(s.wall);
          previous = stamp;
        }
      }),
    );
  });

  it("refuses a peer's stamp more than 60 s ahead of its wall clock and stays where it was", () => {
    const clock = new HybridClock(() => 1_000_000);
    expect(clock.tick()).toEqual({ wall: 1_000_000, logical: 0 });
    const anHourAhead = { wall: 1_000_000 + 3_600_000, logical: 0 };
    expect(() => clock.observe(anHourAhead)).toThrow(
      expect.objectContaining({ code: "E_CLOCK_AHEAD", message: expect.stringContaining("3600 s ahead") }),
    );
    expect(clock.accepts(anHourAhead)).toBe(false);
    expect(clock.tick()).toEqual({ wall: 1_000_000, logical: 1 });
  });

  it("takes in a stamp exactly 60 s ahead", () => {
    const clock = new HybridClock(() => 5_000);
    const limit = { wall: 5_000 + MAX_CLOCK_AHEAD_MS, logical: 3 };
    expect(clock.accepts(limit)).toBe(true);
    expect(clock.observe(limit)).toEqual({ wall: limit.wall, logical: 4 });
  });

  it("observes all of a batch of stamps or, when one is too far ahead, none", () => {
    const clock = new HybridClock(() => 10_000);
    const near = { wall: 20_000, logical: 0 };
    const far = { wall: 10_000 + MAX_CLOCK_AHEAD_MS + 1, logical: 0 };
    expect(() => clock.observeAll([near, far])).toThrow(expect.objectContaining({ code: "E_CLOCK_AHEAD" }));
    expect(clock.tick()).toEqual({ wall: 10_000, logical: 0 });
    clock.observeAll([near]);
    expect(clock.tick()).toEqual({ wall: 20_000, logical: 2 });
  });

  it("starts after the latest stamp the node stored, however far ahead it is", () => {
    const clock = new HybridClock(() => 1_000, { wall: 1_000 + 10 * MAX_CLOCK_AHEAD_MS, logical: 7 });
    expect(clock.tick()).toEqual({ wall: 1_000 + 10 * MAX_CLOCK_AHEAD_MS, logical: 8 });
  });

  it("hands out copies, so a caller changing a stamp cannot move the clock", () => {
    const clock = new HybridClock(() => 100);
    const stamp = clock.tick();
    stamp.wall = 0;
    expect(clock.tick()).toEqual({ wall: 100, logical: 1 });
  });
});
