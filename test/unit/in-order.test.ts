// Items finished in any order are taken in index order, each put resolving once its own item was taken;
// a failure fails every later item.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InOrder } from "../../src/client/in-order.ts";

describe("in order", () => {
  it("takes items in index order whatever order they are put in", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { minLength: 1, maxLength: 40 }), async (keys) => {
        const order = keys
          .map((k, i) => [k, i] as const)
          .sort((x, y) => x[0] - y[0])
          .map(([, i]) => i);
        const taken: number[] = [];
        const sink = new InOrder<number>(async (n) => {
          await Promise.resolve();
          taken.push(n);
        });
        await Promise.all(
          order.map(async (i) => {
            await sink.put(i, i);
            expect(taken).toContain(i);
          }),
        );
        expect(taken).toEqual(keys.map((_, i) => i));
      }),
    );
  });

  it("fails the failed item and every item after it", async () => {
    const sink = new InOrder<number>((n) => {
      if (n === 1) throw new Error("no");
    });
    const later = sink.put(2, 2);
    later.catch(() => undefined);
    await expect(sink.put(0, 0)).resolves.toBeUndefined();
    await expect(sink.put(1, 1)).rejects.toThrow("no");
    await expect(later).rejects.toThrow("no");
    await expect(sink.put(3, 3)).rejects.toThrow("no");
  });

  it("fails the items waiting for one that will never come, and later ones", async () => {
    const sink = new InOrder<number>(() => undefined);
    const waiting = sink.put(1, 1);
    waiting.catch(() => undefined);
    sink.abort(new Error("chunk 0 was not written"));
    await expect(waiting).rejects.toThrow("chunk 0 was not written");
    await expect(sink.put(2, 2)).rejects.toThrow("chunk 0 was not written");
  });
});
