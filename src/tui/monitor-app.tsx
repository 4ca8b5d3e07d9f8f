// src/tui: `dmfs monitor`, a live Ink view of the cluster. This root wires the model source, the keys,
// the clock and the terminal size to MonitorView; cluster-model.ts is the pure fold of status snapshots,
// cluster-feed.ts the connections that feed it, and each panel is a small component of its own.
import { type Key, useApp, useInput, useStdin } from "ink";
import { useMemo, useState, useSyncExternalStore } from "react";
import type { ModelSource } from "./cluster-feed.ts";
import { layoutFor } from "./layout.ts";
import { MonitorView } from "./monitor-view.tsx";
import { makeTheme, ThemeContext } from "./theme.ts";
import { initialUiState, reduceUi, type UiAction } from "./ui-state.ts";
import { useClock } from "./use-clock.ts";
import { useTerminalSize } from "./use-terminal-size.ts";

export interface MonitorAppProps {
  source: ModelSource;
  /** False under NO_COLOR: no colour and no other styling escapes. */
  color: boolean;
}

export function MonitorApp({ source, color }: MonitorAppProps) {
  const model = useSyncExternalStore(source.subscribe, source.getModel);
  const now = useClock();
  const { columns, rows } = useTerminalSize();
  const [ui, setUi] = useState(initialUiState);
  const theme = useMemo(() => makeTheme(color), [color]);
  const { exit } = useApp();
  const { isRawModeSupported } = useStdin();
  const layout = layoutFor(columns, rows, model.nodes.length);

  useInput(
    (input, key) => {
      if (input === "q" || (key.ctrl && input === "c")) {
        exit();
        return;
      }
      const action = actionFor(input, key);
      if (!action) return;
      setUi((state) =>
        reduceUi(state, action, {
          nodeIds: model.nodes.map((n) => n.nodeId),
          eventCount: model.events.length,
          eventLines: layout.bottomLines,
          detailsByDefault: layout.detailsWidth > 0,
        }),
      );
    },
    { isActive: isRawModeSupported },
  );

  return (
    <ThemeContext.Provider value={theme}>
      <MonitorView model={model} ui={ui} now={now} columns={columns} rows={rows} />
    </ThemeContext.Provider>
  );
}

function actionFor(input: string, key: Key): UiAction | undefined {
  if (key.upArrow || input === "k") return "up";
  if (key.downArrow || input === "j") return "down";
  if (key.return) return "toggleDetails";
  if (key.tab) return "nextFocus";
  return undefined;
}
