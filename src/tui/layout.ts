// How the monitor divides the terminal: which panels show, how many rows each gets, how wide the
// sparkline is. Pure arithmetic on the terminal size, so every size can be checked in a test.
import { KEEP_SECONDS } from "./throughput-history.ts";

/** Below this the monitor shows only a request for a larger terminal. */
export const MIN_COLUMNS = 60;
export const MIN_ROWS = 16;
/** From this size on the throughput panel has a title, each line's peak and, if tall enough, taller graphs. */
export const WIDE_COLUMNS = 100;
export const TALL_ROWS = 30;
/** From this width on the details sit beside the event log (and show without asking). */
export const SIDE_BY_SIDE_COLUMNS = 120;
/** Seconds of throughput shown: a minute, or two on a roomy screen. */
export const SPARKLINE_SECONDS = 60;
export const WIDE_SPARKLINE_SECONDS = KEEP_SECONDS;

const HEADER_ROWS = 2;
const FOOTER_ROWS = 1;
const BORDER_ROWS = 2;
/** The event/details panel keeps at least this many rows of content. */
const MIN_BOTTOM_CONTENT = 3;
/** "out " before the sparkline and " 999.9 kB/s" after it, plus border and padding. */
const SPARK_LABELS = 4 + 12 + 4;
/** "  peak 999.9 kB/s" after the roomy sparkline. */
const PEAK_LABEL = 17;
const MAX_DETAILS_WIDTH = 64;
/** Sparkline rows on a screen at least this tall. */
const TALL_GRAPH_ROWS = 40;

export interface Layout {
  tooSmall: boolean;
  /** Throughput title and peaks, taller sparklines when there are rows for them. */
  roomy: boolean;
  /** Node rows shown at once (the table scrolls to keep the selected one in view). */
  nodeRows: number;
  throughputRows: number;
  /** Rows of each of the two sparklines. */
  graphRows: number;
  /** Height of the event log / details row, borders included. */
  bottomRows: number;
  /** Lines of events or details inside that row, under the panel's title. */
  bottomLines: number;
  sparkWidth: number;
  /** Width of the details panel when it sits beside the event log; 0 when it takes the log's place. */
  detailsWidth: number;
}

/**
 * The layout for a terminal of `columns` x `rows` with `nodeCount` nodes. One row is left free: Ink
 * ends its frame with a newline, and a frame as tall as the terminal would scroll it.
 */
export function layoutFor(columns: number, rows: number, nodeCount: number): Layout {
  const tooSmall = columns < MIN_COLUMNS || rows < MIN_ROWS;
  const roomy = columns >= WIDE_COLUMNS && rows >= TALL_ROWS;
  const usable = rows - 1 - HEADER_ROWS - FOOTER_ROWS;
  const graphRows = roomy && rows >= TALL_GRAPH_ROWS ? 3 : 1;
  const throughputRows = BORDER_ROWS + 2 * graphRows + (roomy ? 1 : 0);
  // The table's own header row plus its border; the rest is shared with the bottom panel.
  const tableChrome = BORDER_ROWS + 1;
  const bottomMin = BORDER_ROWS + 1 + MIN_BOTTOM_CONTENT;
  const roomForNodes = usable - throughputRows - tableChrome - bottomMin;
  // Roomy screens give the table up to half of what is left; small ones whatever the events can spare.
  const nodeCap = roomy ? Math.max(1, Math.floor((usable - throughputRows) / 2) - tableChrome) : roomForNodes;
  const nodeRows = Math.max(1, Math.min(Math.max(nodeCount, 1), nodeCap, roomForNodes));
  const bottomRows = Math.max(bottomMin, usable - throughputRows - tableChrome - nodeRows);
  return {
    tooSmall,
    roomy,
    nodeRows,
    throughputRows,
    graphRows,
    bottomRows,
    bottomLines: bottomRows - BORDER_ROWS - 1,
    sparkWidth:
      roomy && columns - SPARK_LABELS - PEAK_LABEL >= WIDE_SPARKLINE_SECONDS
        ? WIDE_SPARKLINE_SECONDS
        : Math.max(10, Math.min(SPARKLINE_SECONDS, columns - SPARK_LABELS - (roomy ? PEAK_LABEL : 0))),
    detailsWidth:
      roomy && columns >= SIDE_BY_SIDE_COLUMNS ? Math.min(MAX_DETAILS_WIDTH, Math.floor(columns * 0.4)) : 0,
  };
}
