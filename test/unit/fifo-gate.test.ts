import { describe, expect, it } from "vitest";
import { FifoGate } from "../../src/workers/fifo-gate.ts";

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every promise callback that can run, run. */
const settle = () => new Promise<void>((r) => setImmediate(r));

describe("FifoGate", () => {
  it("runs at most its limit at once and starts the others in order of arrival", async () => {
    const gate = new FifoGate(2);
    const tasks = Array.from({ length: 5 }, () => deferred());
    const started: number[] = [];
    const runs = tasks.map((t, i) =>
      gate.run(async () => {
        started.push(i);
        await t.promise;
        return i;
      }),
    );
    await settle();
    expect(started).toEqual([0, 1]);
    expect([gate.running, gate.waiting]).toEqual([2, 3]);

    tasks[1]?.resolve();
    await settle();
    expect(started).toEqual([0, 1, 2]);
    // A task arriving now waits behind the two already waiting, though one finishes meanwhile.
    const late = gate.run(async () => {
      started.push(5);
      return 5;
    });
    tasks[0]?.resolve();
    await settle();
    expect(started).toEqual([0, 1, 2, 3]);

    for (const t of tasks) t.resolve();
    expect(await Promise.all([...runs, late])).toEqual([0, 1, 2, 3, 4, 5]);
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
    expect([gate.running, gate.waiting]).toEqual([0, 0]);
  });

  it("passes a failure to its caller and frees the room", async () => {
    const gate = new FifoGate(1);
    await expect(gate.run(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await gate.run(async () => "next")).toBe("next");
    expect(gate.running).toBe(0);
  });

  it("refuses a limit below one", () => {
    expect(() => new FifoGate(0)).toThrow(RangeError);
  });
});
