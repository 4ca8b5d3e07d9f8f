// The event log, newest first: membership changes, rejected frames, file operations, gateway changes.
import { Text } from "ink";
import type { EventKind, MonitorEvent } from "./cluster-model.ts";
import { formatClock } from "./format.ts";
import { Panel } from "./panel.tsx";
import { type Hue, useTheme } from "./theme.ts";

/** The word in front of each event, so its kind reads first even where the text is cut off. */
const KIND_WORDS: Record<EventKind, string> = {
  joined: "joined",
  alive: "back",
  suspect: "suspect",
  down: "down",
  restarted: "restart",
  rejected: "rejected",
  activity: "files",
  gateway: "monitor",
};
const KIND_WIDTH = 8;

const KIND_HUES: Record<EventKind, Hue> = {
  joined: "green",
  alive: "green",
  suspect: "yellow",
  down: "red",
  restarted: "yellow",
  rejected: "magenta",
  activity: "cyan",
  gateway: "blue",
};

export interface EventLogProps {
  events: readonly MonitorEvent[];
  /** Newest events skipped (scrolling back). */
  offset: number;
  /** Event lines that fit under the title. */
  lines: number;
  focused: boolean;
  height: number;
  flexGrow?: number;
}

export function EventLog({ events, offset, lines, focused, height, flexGrow }: EventLogProps) {
  const theme = useTheme();
  const newestFirst = events.slice().reverse();
  const shown = newestFirst.slice(offset, offset + lines);
  const position = offset > 0 ? ` (${offset} newer above)` : "";
  return (
    <Panel title={`Events, newest first${position}`} focused={focused} height={height} flexGrow={flexGrow}>
      {shown.length === 0 ? <Text>no events yet</Text> : null}
      {shown.map((e) => (
        <Text key={e.id} wrap="truncate">
          <Text color={theme.hue("gray")}>{formatClock(e.at)}</Text>
          {"  "}
          <Text color={theme.hue(KIND_HUES[e.kind])}>{`${KIND_WORDS[e.kind].padEnd(KIND_WIDTH)} `}</Text>
          {e.text}
        </Text>
      ))}
    </Panel>
  );
}
