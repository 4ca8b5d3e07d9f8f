import { describe, expect, it } from "vitest";
import { BytePacer, type Clock } from "../../src/node/byte-pacer.ts";

/** A clock that only moves when someone sleeps on it. */
function fakeClock(): Clock & { slept: number[] } {
  let now = 1_000;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
  };
}

describe("BytePacer", () => {
  it("lets transfers through at the rate: 10 MB at 1 MB/s takes 9 s of waiting after the first", async () => {
    const clock = fakeClock();
    const pacer = new BytePacer(1_000_000, clock);
    for (let i = 0; i < 10; i++) await pacer.take(1_000_000);
    expect(clock.slept).toEqual([1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000]);
    expect(clock.now() - 1_000).toBe(9_000);
  });

  it("does not save up idle time", async () => {
    const clock = fakeClock();
    const pacer = new BytePacer(1_000_000, clock);
    await pacer.take(500_000);
    await clock.sleep(60_000); // quiet for a minute
    clock.slept.length = 0;
    await pacer.take(1_000_000);
    await pacer.take(1_000_000);
    expect(clock.slept).toEqual([1000]);
  });

  it("never waits without a limit", async () => {
    const clock = fakeClock();
    for (const rate of [0, Number.POSITIVE_INFINITY]) {
      const pacer = new BytePacer(rate, clock);
      for (let i = 0; i < 5; i++) await pacer.take(1e9);
    }
    expect(clock.slept).toEqual([]);
  });
});
