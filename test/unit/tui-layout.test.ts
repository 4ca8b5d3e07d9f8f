import { describe, expect, it } from "vitest";
import { layoutFor, MIN_COLUMNS, MIN_ROWS, SPARKLINE_SECONDS } from "../../src/tui/layout.ts";
import { sparkline } from "../../src/tui/sparkline.ts";
import {
  initialUiState,
  reduceUi,
  scrollWindow,
  selectedIndex,
  type UiContext,
} from "../../src/tui/ui-state.ts";

/** Rows the layout uses: header 2, table (border 2 + title 1 + rows), throughput, bottom, footer 1. */
const usedRows = (l: ReturnType<typeof layoutFor>) =>
  2 + 3 + l.nodeRows + l.throughputRows + l.bottomRows + 1;

describe("layoutFor", () => {
  it("fits 80x24 in 23 rows (Ink's final newline takes the last) with a full-minute sparkline", () => {
    const l = layoutFor(80, 24, 3);
    expect(l).toMatchObject({ tooSmall: false, roomy: false, nodeRows: 3, graphRows: 1, detailsWidth: 0 });
    expect(usedRows(l)).toBe(23);
    expect(l.sparkWidth).toBe(SPARKLINE_SECONDS);
    expect(l.bottomLines).toBeGreaterThanOrEqual(3);
  });

  it("uses a large terminal: taller sparklines, two minutes of them, details beside the events", () => {
    const l = layoutFor(160, 48, 3);
    expect(l).toMatchObject({ roomy: true, graphRows: 3, sparkWidth: 120 });
    expect(l.detailsWidth).toBeGreaterThan(0);
    expect(usedRows(l)).toBe(47);
  });

  it("keeps details out of the event log's way below 120 columns", () => {
    const l = layoutFor(100, 30, 3);
    expect(l).toMatchObject({ roomy: true, detailsWidth: 0, sparkWidth: SPARKLINE_SECONDS });
    expect(usedRows(l)).toBe(29);
  });

  it("lets the table scroll rather than squeeze the event log on a small screen", () => {
    const l = layoutFor(80, 24, 50);
    expect(l.nodeRows).toBeLessThan(50);
    expect(l.bottomLines).toBeGreaterThanOrEqual(3);
    expect(usedRows(l)).toBe(23);
  });

  it("gives a tall screen's table at most about half the room", () => {
    const l = layoutFor(160, 48, 200);
    expect(l.nodeRows).toBeLessThanOrEqual(24);
    expect(usedRows(l)).toBe(47);
  });

  it("asks for a bigger terminal below the minimum", () => {
    expect(layoutFor(MIN_COLUMNS - 1, 30, 3).tooSmall).toBe(true);
    expect(layoutFor(100, MIN_ROWS - 1, 3).tooSmall).toBe(true);
    expect(layoutFor(MIN_COLUMNS, MIN_ROWS, 3).tooSmall).toBe(false);
  });
});

describe("sparkline", () => {
  it("scales to the largest value, with zero as the lowest block", () => {
    expect(sparkline([0, 1, 2, 4, 8], 5)).toEqual(["▁▂▂▄█"]);
  });

  it("shows the last values when there are more than fit, and pads the start when fewer", () => {
    expect(sparkline([8, 8, 0, 8], 2)).toEqual(["▁█"]);
    expect(sparkline([8], 3)).toEqual(["▁▁█"]);
  });

  it("stacks rows for more resolution, top row first", () => {
    expect(sparkline([0, 4, 8], 3, 2)).toEqual(["  █", "▁██"]);
  });

  it("draws an idle line when there was no traffic", () => {
    expect(sparkline([0, 0, 0], 3)).toEqual(["▁▁▁"]);
  });
});

describe("the UI reducer", () => {
  const ids = ["a", "b", "c"];
  const ctx: UiContext = { nodeIds: ids, eventCount: 10, eventLines: 4, detailsByDefault: false };

  it("moves the selection within the table and stops at its ends", () => {
    let s = reduceUi(initialUiState, "down", ctx);
    s = reduceUi(s, "down", ctx);
    s = reduceUi(s, "down", ctx);
    expect(s.selectedNodeId).toBe("c");
    s = reduceUi(s, "up", ctx);
    expect(selectedIndex(s, ids)).toBe(1);
    expect(reduceUi(initialUiState, "up", ctx).selectedNodeId).toBe("a");
  });

  it("keeps the selected node when the table re-sorts, and falls back to the first when it is gone", () => {
    const s = reduceUi(initialUiState, "down", ctx);
    expect(selectedIndex(s, ["c", "b", "a"])).toBe(1);
    expect(selectedIndex(s, ["a", "c"])).toBe(0);
  });

  it("scrolls the events instead of the table while the events have focus, within the log", () => {
    let s = reduceUi(initialUiState, "nextFocus", ctx);
    expect(s.focus).toBe("events");
    for (let i = 0; i < 20; i++) s = reduceUi(s, "down", ctx);
    expect(s.eventOffset).toBe(6);
    expect(s.selectedNodeId).toBeNull();
    s = reduceUi(s, "up", ctx);
    expect(s.eventOffset).toBe(5);
    expect(reduceUi(s, "nextFocus", ctx).focus).toBe("nodes");
  });

  it("toggles details from the layout's default", () => {
    expect(reduceUi(initialUiState, "toggleDetails", ctx).detailsOpen).toBe(true);
    expect(reduceUi(initialUiState, "toggleDetails", { ...ctx, detailsByDefault: true }).detailsOpen).toBe(
      false,
    );
  });

  it("keeps the selected row inside the visible window", () => {
    expect(scrollWindow(10, 0, 3)).toBe(0);
    expect(scrollWindow(10, 5, 3)).toBe(3);
    expect(scrollWindow(10, 9, 3)).toBe(7);
    expect(scrollWindow(2, 1, 3)).toBe(0);
  });
});
