import { describe, expect, it } from "vitest";
import { Lookahead } from "../../src/client/lookahead.ts";

/** A source that records how far it was pulled and whether it was closed. */
function counted(items: number[]) {
  const state = { pulled: 0, closed: false };
  async function* source() {
    try {
      for (const item of items) {
        state.pulled++;
        yield item;
      }
    } finally {
      state.closed = true;
    }
  }
  return { state, source: source() };
}

async function all<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

describe("Lookahead", () => {
  it("answers whether n more items come, reading only that far ahead, and then yields everything in order", async () => {
    const { state, source } = counted([1, 2, 3, 4]);
    const ahead = new Lookahead(source);
    expect(await ahead.hasAtLeast(2)).toBe(true);
    expect(state.pulled).toBe(2);
    expect(await all(ahead)).toEqual([1, 2, 3, 4]);
  });

  it("says no for a source shorter than n and still yields what it has", async () => {
    const { source } = counted([7]);
    const ahead = new Lookahead(source);
    expect(await ahead.hasAtLeast(2)).toBe(false);
    expect(await all(ahead)).toEqual([7]);
    expect(await ahead.hasAtLeast(1)).toBe(false);
  });

  it("closes its source when the consumer stops early, or when closed before iterating", async () => {
    const early = counted([1, 2, 3]);
    for await (const item of new Lookahead(early.source)) if (item === 1) break;
    expect(early.state.closed).toBe(true);
    expect(early.state.pulled).toBe(1);

    const unused = counted([1, 2, 3]);
    const ahead = new Lookahead(unused.source);
    await ahead.hasAtLeast(1);
    await ahead.close();
    expect(unused.state.closed).toBe(true);
    expect(await all(ahead)).toEqual([]);
  });
});
