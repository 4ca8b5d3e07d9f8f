// `dmfs monitor`: the live terminal view of the cluster (src/tui) on the alternate screen, until q or
// Ctrl-C. It needs a terminal; scripts get the same figures from `dmfs status --json`.
import { Command } from "commander";
import { NodeClient } from "../client/node-client.ts";
import { DmfsError } from "../errors.ts";
import { ClusterFeed } from "../tui/cluster-feed.ts";
import {
  addClusterOptions,
  type ClusterAccess,
  type ClusterAccessOptions,
  resolveClusterAccess,
} from "./cluster-access.ts";

const CONNECT_TIMEOUT_MS = 2_000;
// A full-screen view belongs on the alternate screen: leaving it gives back the shell's scrollback as it was.
const ENTER_ALTERNATE_SCREEN = "\u001B[?1049h";
const LEAVE_ALTERNATE_SCREEN = "\u001B[?1049l";

export type MonitorTarget = Pick<ClusterAccess, "addrs" | "identity" | "chunkSize">;

export function monitorCommand(): Command {
  return addClusterOptions(
    new Command("monitor").description("watch the cluster live: nodes, traffic and events (q quits)"),
  ).action(async (o: ClusterAccessOptions) => {
    requireTerminal();
    await runMonitor(await resolveClusterAccess(o));
  });
}

/** Refuses to draw a screen into a pipe or a file. */
export function requireTerminal(): void {
  if (!process.stdout.isTTY) {
    throw new DmfsError(
      "E_USAGE",
      "the monitor needs a terminal (stdout is not one); for scripts use `dmfs status --json`.",
    );
  }
}

/**
 * Shows the monitor until the user quits (or SIGINT/SIGTERM/SIGHUP), then restores the terminal and
 * closes every connection. Fails with E_UNREACHABLE, before touching the screen, when no node answers.
 */
export async function runMonitor(target: MonitorTarget): Promise<void> {
  // Ink draws only a final frame when it thinks it runs under CI (it reads CI at import); a person at a
  // terminal asked for the live view, which requireTerminal has already checked is possible.
  delete process.env.CI;
  delete process.env.CONTINUOUS_INTEGRATION;
  // Ink and React load here, not at start-up: every other command is lighter without them.
  const [{ render }, { createElement }, { MonitorApp }, { colorWanted }] = await Promise.all([
    import("ink"),
    import("react"),
    import("../tui/monitor-app.tsx"),
    import("../tui/theme.ts"),
  ]);
  const feed = new ClusterFeed({
    seeds: target.addrs,
    connect: (addrs) =>
      NodeClient.connect(addrs, {
        identity: target.identity,
        chunkSize: target.chunkSize,
        timeoutMs: CONNECT_TIMEOUT_MS,
      }),
  });
  try {
    await feed.start();
    process.stdout.write(ENTER_ALTERNATE_SCREEN);
    const app = render(createElement(MonitorApp, { source: feed, color: colorWanted(process.env) }), {
      exitOnCtrlC: false,
    });
    const quit = () => app.unmount();
    const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
    for (const signal of signals) process.once(signal, quit);
    try {
      await app.waitUntilExit();
    } finally {
      for (const signal of signals) process.off(signal, quit);
      process.stdout.write(LEAVE_ALTERNATE_SCREEN);
    }
  } finally {
    feed.close();
  }
}
