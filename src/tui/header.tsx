// The two header lines: which cluster, through which gateway, and the cluster-wide totals.
import { Box, Text } from "ink";
import type { RepairSummary } from "../cluster/repair-summary.ts";
import { type ClusterModel, summarize } from "./cluster-model.ts";
import { formatDuration, formatSize } from "./format.ts";
import { useTheme } from "./theme.ts";

/** Shown only while copies are left to move or hand over, so a settled cluster's header stays short. */
function movingText(r: RepairSummary): string {
  if (!r.bytesToMove && !r.misplaced) return "";
  const eta = r.etaSeconds === null ? "-" : formatDuration(r.etaSeconds * 1000);
  return `   misplaced ${r.misplaced ?? "-"}   to move ${formatSize(r.bytesToMove ?? 0)} ETA ${eta}`;
}

export function Header({ model, now }: { model: ClusterModel; now: number }) {
  const theme = useTheme();
  const s = summarize(model);
  const { gateway } = model;
  const link =
    gateway.state === "connected"
      ? { text: `via ${gateway.addr}`, hue: undefined }
      : gateway.state === "lost"
        ? {
            text: `GATEWAY ${gateway.addr} LOST ${formatDuration(now - gateway.since)} ago - trying other nodes`,
            hue: theme.hue("red"),
          }
        : { text: "connecting...", hue: theme.hue("yellow") };
  const allAlive = s.total > 0 && s.alive === s.total;
  return (
    <Box flexDirection="column" flexShrink={0}>
      <Text wrap="truncate">
        <Text bold={theme.emphasis}>DMFS monitor</Text>
        {`  cluster ${model.clusterId ?? "-"}  `}
        <Text color={link.hue} bold={theme.emphasis && link.hue !== undefined}>
          {link.text}
        </Text>
      </Text>
      <Text wrap="truncate">
        {"nodes "}
        <Text color={theme.hue(allAlive ? "green" : "yellow")}>{`${s.alive}/${s.total} alive`}</Text>
        {`   stored ${s.bytesStored === null ? "-" : formatSize(s.bytesStored)}`}
        {`   files ${model.files ?? "-"}`}
        {"   under-replicated "}
        <Text color={s.underReplicated ? theme.hue("yellow") : undefined}>
          {s.underReplicated === null ? "-" : String(s.underReplicated)}
        </Text>
        {movingText(s.repair)}
      </Text>
    </Box>
  );
}
