// The admin's side of the layout: read the layout the cluster follows (or the one this admin bundle
// last signed, whichever is newer), make the next version, sign it with the CA key, keep it in the admin
// bundle (`<cluster dir>/layout`) and hand it to the nodes, which gossip it on.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { NodeClient } from "../client/node-client.ts";
import { loadClusterCa, writeFileAtomically } from "../cluster/cluster-dir.ts";
import { implicitLayout, type Layout, type LayoutNode, newerLayout } from "../cluster/layout.ts";
import { signLayout, type VerifiedLayout, verifyLayout } from "../crypto/layout-signature.ts";
import type { NodeStatus } from "../protocol/messages.ts";
import type { ClusterAccess } from "./cluster-access.ts";
import { sendToMembers } from "./send-to-members.ts";

export const ADMIN_LAYOUT_FILE = "layout";

const CONNECT_TIMEOUT_MS = 3_000;

/** What a node said of itself when asked for the layout. */
export interface NodeReport {
  nodeId: string;
  addr: string;
  name: string;
  capacity: number;
  /** The zone its config names, if any. */
  zone: string | undefined;
  layout: VerifiedLayout | undefined;
  changing: boolean;
  /** At its last repair scan: copies it holds off their homes, chunks whose homes lack a copy. */
  misplaced: number | null;
  underReplicated: number | null;
}

export interface ClusterLayoutView {
  /** The newest layout: signed (by this admin or seen on a node), else the implicit one. */
  layout: Layout;
  signed: boolean;
  /** The members as the gateway sees them, itself included ("self"). */
  members: NodeStatus["members"];
  /** Each node that answered, by node id. */
  reports: Map<string, NodeReport>;
}

/** The layout the admin bundle last signed, if any (verified like one from a node). */
export async function adminLayout(clusterDir: string, caPem: string, clusterId: string) {
  const file = join(clusterDir, ADMIN_LAYOUT_FILE);
  if (!existsSync(file)) return undefined;
  return verifyLayout(caPem, clusterId, new Uint8Array(await readFile(file)));
}

/** Asks the cluster (the gateway, then every member it reports alive) for its layout and its nodes. */
export async function readClusterLayout(access: ClusterAccess): Promise<ClusterLayoutView> {
  const { identity } = access;
  const gateway = await connect(access, access.addrs);
  let members: NodeStatus["members"];
  const reports = new Map<string, NodeReport>();
  try {
    const status = await gateway.status();
    members = [
      { nodeId: status.nodeId, addr: status.listenAddr, state: "self", rttMs: null, lastSeen: null },
      ...status.members,
    ];
    const answer = async (client: NodeClient) => {
      const reply = await client.request({ t: "layout.get" }, "layout.reply");
      reports.set(client.nodeId, {
        nodeId: client.nodeId,
        addr: client.addr,
        name: reply.name,
        capacity: reply.capacity,
        zone: reply.zone,
        layout: reply.layout ? verifyLayout(identity.ca, identity.clusterId, reply.layout) : undefined,
        changing: reply.changing,
        misplaced: reply.misplaced,
        underReplicated: reply.underReplicated,
      });
    };
    await answer(gateway);
    await Promise.all(
      status.members
        .filter((m) => m.state === "alive")
        .map(async (m) => {
          const client = await connect(access, [m.addr]).catch(() => undefined);
          if (!client) return;
          try {
            await answer(client);
          } catch {
            // A member that does not answer is shown without its own figures.
          } finally {
            client.close();
          }
        }),
    );
  } finally {
    gateway.close();
  }
  let newest: VerifiedLayout | undefined;
  for (const report of reports.values()) {
    if (report.layout) newest = newest ? newerLayout(newest, report.layout) : report.layout;
  }
  return {
    layout:
      newest?.layout ??
      implicitLayout(
        identity.clusterId,
        members.map((m) => m.nodeId),
      ),
    signed: newest !== undefined,
    members,
    reports,
  };
}

/**
 * The layout the next version is made from: the newest of the cluster's and this admin bundle's, with
 * each node's name filled in from the nodes that answered, each node's zone taken from the node when
 * its config names one (a node that did not answer, or names none, keeps the zone it had), and the
 * implicit layout's equal weights replaced by the capacities the nodes report (a node that did not
 * answer gets the others' median).
 */
export async function baseLayout(access: ClusterAccess, view: ClusterLayoutView): Promise<Layout> {
  const { ca } = await loadClusterCa(access.clusterDir);
  const own = await adminLayout(access.clusterDir, ca.cert, access.identity.clusterId);
  let layout = view.layout;
  if (own && (!view.signed || own.layout.version >= view.layout.version)) layout = own.layout;
  const capacities = [...view.reports.values()].map((r) => r.capacity).sort((a, b) => a - b);
  const median = capacities[Math.floor(capacities.length / 2)] ?? 1;
  const implicit = !view.signed && layout === view.layout;
  const nodes: LayoutNode[] = layout.nodes.map((n) => {
    const report = view.reports.get(n.nodeId);
    return {
      ...n,
      ...(n.name === undefined && report ? { name: report.name } : {}),
      ...(report?.zone === undefined ? {} : { zone: report.zone }),
      ...(implicit ? { capacity: report?.capacity ?? median } : {}),
    };
  });
  return { ...layout, nodes };
}

/**
 * Signs `layout` with the CA key, keeps it in the admin bundle, and hands it to the gateway and every
 * member it reports alive; returns the addresses of the nodes that took it (gossip reaches the rest).
 */
export async function issueLayout(access: ClusterAccess, layout: Layout): Promise<string[]> {
  const { ca } = await loadClusterCa(access.clusterDir);
  const signed = signLayout(ca.key, layout);
  await saveAdminLayout(access.clusterDir, signed);
  return sendToMembers(
    access,
    { t: "layout.set", layout: signed },
    {
      timeoutMs: CONNECT_TIMEOUT_MS,
      unreachable: (reason) =>
        `The new layout is signed and kept in ${join(access.clusterDir, ADMIN_LAYOUT_FILE)}, but no node took it (${reason}); run the command again when a node is up.`,
    },
  );
}

export async function saveAdminLayout(clusterDir: string, signed: Uint8Array): Promise<string> {
  return writeFileAtomically(join(clusterDir, ADMIN_LAYOUT_FILE), signed, 0o644);
}

function connect(access: ClusterAccess, addrs: string[]): Promise<NodeClient> {
  return NodeClient.connect(addrs, {
    identity: access.identity,
    chunkSize: access.chunkSize,
    timeoutMs: CONNECT_TIMEOUT_MS,
  });
}
