// The whole monitor screen for one model, UI state, time and terminal size: a pure function of its
// props, which is what the component tests render.
import { Box, Text } from "ink";
import type { ClusterModel } from "./cluster-model.ts";
import { EventLog } from "./event-log.tsx";
import { Header } from "./header.tsx";
import { KeyHelp } from "./key-help.tsx";
import { type Layout, layoutFor, MIN_COLUMNS, MIN_ROWS } from "./layout.ts";
import { NodeDetails } from "./node-details.tsx";
import { NodesTable } from "./nodes-table.tsx";
import { ThroughputPanel } from "./throughput-panel.tsx";
import { detailsShown, selectedIndex, type UiState } from "./ui-state.ts";

/** A panel's two border columns and its padding of one on each side. */
const PANEL_FRAME_COLUMNS = 4;

export interface MonitorViewProps {
  model: ClusterModel;
  ui: UiState;
  now: number;
  columns: number;
  rows: number;
}

export function MonitorView({ model, ui, now, columns, rows }: MonitorViewProps) {
  const layout = layoutFor(columns, rows, model.nodes.length);
  if (layout.tooSmall) {
    return (
      <Text wrap="truncate">{`dmfs monitor needs at least ${MIN_COLUMNS}x${MIN_ROWS}; this terminal is ${columns}x${rows}`}</Text>
    );
  }
  const selected = selectedIndex(
    ui,
    model.nodes.map((n) => n.nodeId),
  );
  const showDetails = detailsShown(ui, layout.detailsWidth > 0);
  return (
    <Box flexDirection="column" width={columns} height={rows - 1}>
      <Header model={model} now={now} />
      <NodesTable
        nodes={model.nodes}
        selected={selected}
        rows={layout.nodeRows}
        width={columns - PANEL_FRAME_COLUMNS}
        focused={ui.focus === "nodes"}
        now={now}
      />
      <ThroughputPanel
        history={model.throughput}
        now={now}
        seconds={layout.sparkWidth}
        graphRows={layout.graphRows}
        titled={layout.roomy}
      />
      <BottomPanels
        model={model}
        ui={ui}
        now={now}
        layout={layout}
        selected={selected}
        showDetails={showDetails}
      />
      <KeyHelp
        focus={ui.focus}
        detailsShown={showDetails}
        position={
          model.nodes.length > layout.nodeRows ? { selected: selected + 1, count: model.nodes.length } : null
        }
      />
    </Box>
  );
}

interface BottomPanelsProps {
  model: ClusterModel;
  ui: UiState;
  now: number;
  layout: Layout;
  selected: number;
  showDetails: boolean;
}

/** The event log, with the details beside it on a wide screen or in its place on a narrower one. */
function BottomPanels({ model, ui, now, layout, selected, showDetails }: BottomPanelsProps) {
  const height = layout.bottomRows;
  const lines = layout.bottomLines;
  const details = (
    <NodeDetails
      node={model.nodes[selected]}
      now={now}
      lines={lines}
      height={height}
      width={layout.detailsWidth || undefined}
      flexGrow={layout.detailsWidth ? undefined : 1}
    />
  );
  // A small screen has room for one of the two; focusing the events brings the log back.
  if (showDetails && !layout.detailsWidth && ui.focus === "nodes") return details;
  return (
    <Box height={height} flexShrink={0}>
      <EventLog
        events={model.events}
        offset={ui.eventOffset}
        lines={lines}
        focused={ui.focus === "events"}
        height={height}
        flexGrow={1}
      />
      {showDetails && layout.detailsWidth ? details : null}
    </Box>
  );
}
