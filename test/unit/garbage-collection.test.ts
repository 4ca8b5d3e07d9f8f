import { setTimeout as delay } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { collectPeriodically } from "../../src/cli/garbage-collection.ts";

describe("collectPeriodically", () => {
  it("collects an unreachable object in the old generation while the process allocates nothing", async () => {
    // Kept alive through a few scavenges so it reaches the old generation, which only a full collection frees.
    let target: object | undefined = { payload: new Array(1000).fill(7) };
    const ref = new WeakRef(target);
    const stop = collectPeriodically(20);
    try {
      await delay(100);
      target = undefined;
      const deadline = Date.now() + 5_000;
      // Bounded poll: the WeakRef clears once a collection has run after the last strong reference went.
      while (ref.deref() !== undefined && Date.now() < deadline) await delay(20);
      expect(ref.deref()).toBeUndefined();
    } finally {
      stop();
    }
  });
});
