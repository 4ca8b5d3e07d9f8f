// `dmfs node remove | drain NODE`: the admin takes a node out of the layout. Both sign a layout without
// it; the nodes then bring every chunk to R copies on its homes under it (src/node/repair.ts). `remove`
// is for a node that is gone: it acts at once and the survivors repair. `drain` is for a node that is
// up: it gives its copies to their homes and drops its own once they hold them, and the command waits
// until it holds no chunk.
import { Command } from "commander";
import { NodeClient } from "../client/node-client.ts";
import { findLayoutNode, nextLayout } from "../cluster/layout.ts";
import { DmfsError } from "../errors.ts";
import { addClusterOptions, type ClusterAccessOptions, resolveClusterAccess } from "./cluster-access.ts";
import { baseLayout, issueLayout, readClusterLayout } from "./layout-admin.ts";

const DRAIN_POLL_MS = 1_000;

interface MembershipOptions extends ClusterAccessOptions {
  json?: boolean;
}

export function nodeRemoveCommand(): Command {
  return addClusterOptions(
    new Command("remove")
      .description("take a dead node out of the layout at once; the others repair its copies")
      .argument("<node>", "the node's name (node-3) or id (or the start of its id)"),
  )
    .option("--json", "print { node, version, nodes } as JSON")
    .action(async (which: string, o: MembershipOptions, cmd: Command) => {
      const { removed, version, nodes } = await leaveLayout(which, withParentConfig(o, cmd), "remove");
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ node: removed, version, nodes })}\n`);
        return;
      }
      process.stdout.write(
        `Removed ${removed} from the layout: version ${version}, taken by ${nodes.length} node(s) (${nodes.join(", ")}); they now repair every chunk to its homes.\n`,
      );
    });
}

export function nodeDrainCommand(): Command {
  return addClusterOptions(
    new Command("drain")
      .description("move a live node's copies to the other homes, then leave it outside the layout")
      .argument("<node>", "the node's name (node-3) or id (or the start of its id)"),
  )
    .option("--timeout <seconds>", "how long to wait for the node to give away its copies", "600")
    .option("--json", "print { node, version, nodes } as JSON")
    .action(async (which: string, o: MembershipOptions & { timeout: string }, cmd: Command) => {
      const timeoutMs = Number(o.timeout) * 1000;
      if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
        throw new DmfsError("E_USAGE", "--timeout must be a number of seconds greater than 0");
      }
      const { removed, version, nodes, addr, access } = await leaveLayout(
        which,
        withParentConfig(o, cmd),
        "drain",
      );
      const client = await NodeClient.connect([addr as string], {
        identity: access.identity,
        chunkSize: access.chunkSize,
        timeoutMs: 3_000,
      });
      try {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const { chunks } = (await client.status()).store;
          if (chunks === 0) break;
          if (Date.now() > deadline) {
            throw new DmfsError(
              "E_TIMEOUT",
              `${removed} is out of the layout (version ${version}) but still holds ${chunks} chunk(s) after ${o.timeout} s; its copies go on moving - run "dmfs status" to watch.`,
            );
          }
          await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
        }
      } finally {
        client.close();
      }
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ node: removed, version, nodes })}\n`);
        return;
      }
      process.stdout.write(
        `Drained ${removed}: it holds no chunk and is out of the layout (version ${version}); it can be stopped.\n`,
      );
    });
}

/**
 * `dmfs node` has its own --config (the config of the node it runs), and commander hands a --config
 * written after `remove`/`drain` to it: take it from there.
 */
function withParentConfig<T extends MembershipOptions>(o: T, cmd: Command): T {
  const parentConfig = cmd.parent?.opts<{ config?: string }>().config;
  return o.config === undefined && parentConfig !== undefined ? { ...o, config: parentConfig } : o;
}

async function leaveLayout(which: string, o: MembershipOptions, how: "remove" | "drain") {
  const access = await resolveClusterAccess(o);
  const view = await readClusterLayout(access);
  const base = await baseLayout(access, view);
  const node = findLayoutNode(base, which);
  const member = view.members.find((m) => m.nodeId === node.nodeId);
  const label = node.name ? `${node.name} (${node.nodeId.slice(0, 8)})` : node.nodeId;
  if (how === "drain" && member?.state !== "alive" && member?.state !== "self") {
    throw new DmfsError(
      "E_USAGE",
      `${label} is not alive, so it cannot give its copies away; use "dmfs node remove".`,
    );
  }
  const next = nextLayout(base, (nodes) => nodes.filter((n) => n.nodeId !== node.nodeId));
  const nodes = await issueLayout(access, next);
  return { removed: label, version: next.version, nodes, addr: member?.addr, access };
}
