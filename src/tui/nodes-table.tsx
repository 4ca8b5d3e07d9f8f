// The nodes table: one row per member with its state word (coloured when colour is on), RTT from the
// gateway, its own store figures and traffic rates. The selected row carries a ">" marker.
import { Text } from "ink";
import { freshFigures, type NodeView, shortId } from "./cluster-model.ts";
import { fitCell, formatDuration, formatRate, formatRtt, formatSize } from "./format.ts";
import { Panel } from "./panel.tsx";
import { STATE_HUES, useTheme } from "./theme.ts";
import { scrollWindow } from "./ui-state.ts";

interface Column {
  title: string;
  width: number;
  align: "left" | "right";
  value: (node: NodeView, now: number) => string;
}

const MARKER_WIDTH = 1;
const MIN_ADDRESS_WIDTH = 9;

const id: Column = { title: "NODE", width: 8, align: "left", value: (n) => shortId(n.nodeId) };
const state: Column = { title: "STATE", width: 7, align: "left", value: (n) => n.state };
const rtt: Column = {
  title: "RTT",
  width: 7,
  align: "right",
  value: (n) => (n.isGateway ? "gateway" : formatRtt(n.state === "down" ? null : n.rttMs)),
};
const chunks: Column = {
  title: "CHUNKS",
  width: 6,
  align: "right",
  value: (n) => (n.figures ? String(n.figures.store.chunks) : "-"),
};
const stored: Column = {
  title: "STORED",
  width: 9,
  align: "right",
  value: (n) => (n.figures ? formatSize(n.figures.store.bytes) : "-"),
};
const diskFree: Column = {
  title: "DISK FREE",
  width: 9,
  align: "right",
  value: (n) => (n.figures ? formatSize(n.figures.store.diskFree) : "-"),
};
const rateIn: Column = {
  title: "IN MB/s",
  width: 7,
  align: "right",
  value: (n, now) => formatRate(freshFigures(n, now)?.inRate ?? null),
};
const rateOut: Column = {
  title: "OUT MB/s",
  width: 8,
  align: "right",
  value: (n, now) => formatRate(freshFigures(n, now)?.outRate ?? null),
};

const uptime: Column = {
  title: "UP",
  width: 8,
  align: "right",
  value: (n, now) => (n.figures && n.state !== "down" ? formatDuration(now - n.figures.startedAt) : "-"),
};

// Every column but the id and the address, which lead each row and name the node.
const NARROW = [state, rtt, chunks, stored, rateIn, rateOut];
const WIDE = [state, rtt, chunks, stored, diskFree, rateIn, rateOut, uptime];
const MAX_ADDRESS_WIDTH = 28;
const TYPICAL_ADDRESS_WIDTH = 15;

interface ColumnChoice {
  rest: Column[];
  gap: number;
}

const NARROWEST: ColumnChoice = { rest: NARROW, gap: 1 };
const CHOICES: ColumnChoice[] = [{ rest: WIDE, gap: 2 }, { rest: NARROW, gap: 2 }, NARROWEST];

/** The widest set of columns that leaves the address room for a typical "127.0.0.1:8000". */
function chooseColumns(width: number): { columns: Column[]; gap: number } {
  const room = ({ rest, gap }: ColumnChoice) =>
    width - rest.reduce((sum, c) => sum + c.width + gap, MARKER_WIDTH + gap + id.width + gap);
  const choice = CHOICES.find((c) => room(c) >= TYPICAL_ADDRESS_WIDTH) ?? NARROWEST;
  const address: Column = {
    title: "ADDRESS",
    width: Math.min(MAX_ADDRESS_WIDTH, Math.max(MIN_ADDRESS_WIDTH, room(choice))),
    align: "left",
    value: (n) => n.addr,
  };
  return { columns: [id, address, ...choice.rest], gap: choice.gap };
}

export interface NodesTableProps {
  nodes: readonly NodeView[];
  selected: number;
  /** Rows of nodes shown at once. */
  rows: number;
  /** Width inside the panel's border and padding. */
  width: number;
  focused: boolean;
  now: number;
}

export function NodesTable({ nodes, selected, rows, width, focused, now }: NodesTableProps) {
  const theme = useTheme();
  const { columns, gap } = chooseColumns(width);
  const top = scrollWindow(nodes.length, selected, rows);
  const shown = nodes.slice(top, top + rows);
  const line = (cells: string[]) => cells.join(" ".repeat(gap));
  return (
    <Panel focused={focused}>
      <Text bold={theme.emphasis} wrap="truncate">
        {" ".repeat(MARKER_WIDTH + gap)}
        {line(columns.map((c) => fitCell(c.title, c.width, c.align)))}
      </Text>
      {nodes.length === 0 ? <Text wrap="truncate">{"  waiting for the member list..."}</Text> : null}
      {shown.map((node, i) => {
        const isSelected = top + i === selected;
        const cells = columns.map((c) => fitCell(c.value(node, now), c.width, c.align));
        const stateAt = columns.indexOf(state);
        const before = line(cells.slice(0, stateAt));
        const after = line(cells.slice(stateAt + 1));
        return (
          <Text key={node.nodeId} wrap="truncate" inverse={isSelected && focused && theme.emphasis}>
            {isSelected ? ">" : " "}
            {" ".repeat(gap)}
            {before}
            {" ".repeat(gap)}
            <Text color={theme.hue(STATE_HUES[node.state])} bold={theme.emphasis && node.state !== "alive"}>
              {cells[stateAt]}
            </Text>
            {" ".repeat(gap)}
            {after}
          </Text>
        );
      })}
    </Panel>
  );
}
