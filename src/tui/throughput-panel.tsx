// Cluster throughput over the last minute: bytes in and out summed over all nodes, one sparkline each.
import { Box, Text } from "ink";
import { formatThroughput } from "./format.ts";
import { Panel } from "./panel.tsx";
import { sparkline } from "./sparkline.ts";
import { type Hue, useTheme } from "./theme.ts";
import { recentSeries, type ThroughputHistory } from "./throughput-history.ts";

export interface ThroughputPanelProps {
  history: ThroughputHistory;
  now: number;
  /** Seconds shown, one character each. */
  seconds: number;
  /** Rows per sparkline. */
  graphRows: number;
  /** Adds a title line and each line's peak. */
  titled: boolean;
}

export function ThroughputPanel({ history, now, seconds, graphRows, titled }: ThroughputPanelProps) {
  const series = recentSeries(history, now, seconds);
  return (
    <Panel title={titled ? `Throughput, last ${seconds} s, summed over the nodes` : undefined}>
      <SeriesGraph label="in" values={series.bytesIn} hue="green" rows={graphRows} withPeak={titled} />
      <SeriesGraph label="out" values={series.bytesOut} hue="cyan" rows={graphRows} withPeak={titled} />
    </Panel>
  );
}

interface SeriesGraphProps {
  label: string;
  values: number[];
  hue: Hue;
  rows: number;
  withPeak: boolean;
}

/** The sparkline with its label before it and the latest rate after its bottom line. */
function SeriesGraph({ label, values, hue, rows, withPeak }: SeriesGraphProps) {
  const theme = useTheme();
  const lines = sparkline(values, values.length, rows);
  const current = formatThroughput(values.at(-1) ?? 0).padStart(11);
  const peak = withPeak ? `  peak ${formatThroughput(Math.max(0, ...values))}` : "";
  return (
    <Box flexDirection="column">
      {lines.map((line, i) => {
        const bottom = i === lines.length - 1;
        return (
          // biome-ignore lint/suspicious/noArrayIndexKey: a row's index is its identity here
          <Text key={i} wrap="truncate">
            {(bottom ? label : "").padEnd(4)}
            <Text color={theme.hue(hue)}>{line}</Text>
            {bottom ? ` ${current}${peak}` : ""}
          </Text>
        );
      })}
    </Box>
  );
}
