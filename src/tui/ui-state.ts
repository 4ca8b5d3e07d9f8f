// The monitor's interaction state - which panel has focus, which node is selected, whether details show,
// how far back the event log is scrolled - and the pure reducer the keys drive.

export type Focus = "nodes" | "events";

export interface UiState {
  focus: Focus;
  /** Selected by id, so the selection follows its node when the table re-sorts. */
  selectedNodeId: string | null;
  /** null: the layout's default (shown on roomy screens, hidden on small ones). */
  detailsOpen: boolean | null;
  /** Events scrolled past, counting from the newest. */
  eventOffset: number;
}

export type UiAction = "up" | "down" | "toggleDetails" | "nextFocus";

export interface UiContext {
  /** Node ids in table order. */
  nodeIds: readonly string[];
  eventCount: number;
  /** Event lines the log shows at once. */
  eventLines: number;
  /** Whether details show when the user has not chosen. */
  detailsByDefault: boolean;
}

export const initialUiState: UiState = {
  focus: "nodes",
  selectedNodeId: null,
  detailsOpen: null,
  eventOffset: 0,
};

export function reduceUi(state: UiState, action: UiAction, ctx: UiContext): UiState {
  switch (action) {
    case "nextFocus":
      return { ...state, focus: state.focus === "nodes" ? "events" : "nodes" };
    case "toggleDetails":
      return { ...state, detailsOpen: !detailsShown(state, ctx.detailsByDefault) };
    case "up":
    case "down": {
      const step = action === "up" ? -1 : 1;
      if (state.focus === "events") {
        // The log lists the newest first, so down moves on to older events.
        const maxOffset = Math.max(0, ctx.eventCount - ctx.eventLines);
        return { ...state, eventOffset: clamp(state.eventOffset + step, 0, maxOffset) };
      }
      if (ctx.nodeIds.length === 0) return state;
      const at = selectedIndex(state, ctx.nodeIds);
      const next = clamp(at + step, 0, ctx.nodeIds.length - 1);
      return { ...state, selectedNodeId: ctx.nodeIds[next] ?? null };
    }
  }
}

/** The selected row: the selected node's, or the first when it is gone or none was chosen. */
export function selectedIndex(state: UiState, nodeIds: readonly string[]): number {
  const at = state.selectedNodeId === null ? -1 : nodeIds.indexOf(state.selectedNodeId);
  return at === -1 ? 0 : at;
}

export function detailsShown(state: UiState, byDefault: boolean): boolean {
  return state.detailsOpen ?? byDefault;
}

/** The first row of a `visible`-row window over `count` rows that keeps row `selected` in view. */
export function scrollWindow(count: number, selected: number, visible: number): number {
  return clamp(selected - visible + 1, 0, Math.max(0, count - visible));
}

function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, n));
}
