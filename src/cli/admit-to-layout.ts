// `cluster add-node`'s part in the layout: the admin chooses the new node's id and signs the next layout
// version, which includes it, into the node's bundle. The node takes that id on its first start and
// gossips the layout to the cluster, so it joins the layout when it first starts, not before.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { loadClusterCa, writeFileAtomically } from "../cluster/cluster-dir.ts";
import { type Layout, nextLayout } from "../cluster/layout.ts";
import { signLayout } from "../crypto/layout-signature.ts";
import { LAYOUT_FILE } from "../node/layout-keeper.ts";
import { NODE_ID_FILE } from "../store/node-identity.ts";
import { resolveClusterAccess } from "./cluster-access.ts";
import { adminLayout, baseLayout, readClusterLayout, saveAdminLayout } from "./layout-admin.ts";

export interface AdmitOptions {
  /** The admin bundle. */
  dir: string;
  name: string;
  bundleDir: string;
  capacity: number | undefined;
  /** The zone the node will be in, if the admin said; otherwise the node's own config names it at the next layout change. */
  zone: string | undefined;
  /** Where the cluster is, if the admin said (--node or --config); otherwise only the admin's copy counts. */
  o: { node?: string; config?: string };
}

/** Writes the node's id and the next layout into its bundle; undefined when no layout is known. */
export async function admitToLayout(
  a: AdmitOptions,
): Promise<{ nodeId: string; version: number } | undefined> {
  const base = await knownLayout(a);
  if (!base) return undefined;
  const nodeId = randomBytes(16).toString("hex");
  const capacities = base.nodes.map((n) => n.capacity).sort((x, y) => x - y);
  const capacity = a.capacity ?? capacities[Math.floor(capacities.length / 2)] ?? 1;
  const next = nextLayout(base, (nodes) => [
    ...nodes,
    { nodeId, name: a.name, capacity, ...(a.zone === undefined ? {} : { zone: a.zone }) },
  ]);
  const { ca } = await loadClusterCa(a.dir);
  const signed = signLayout(ca.key, next);
  await writeFileAtomically(join(a.bundleDir, NODE_ID_FILE), `${nodeId}\n`, 0o644);
  await writeFileAtomically(join(a.bundleDir, LAYOUT_FILE), signed, 0o644);
  await saveAdminLayout(a.dir, signed);
  return { nodeId, version: next.version };
}

async function knownLayout(a: AdmitOptions): Promise<Layout | undefined> {
  if (a.o.node || a.o.config) {
    const access = await resolveClusterAccess({ ...a.o, cluster: a.dir });
    return baseLayout(access, await readClusterLayout(access));
  }
  const { clusterId, ca } = await loadClusterCa(a.dir);
  return (await adminLayout(a.dir, ca.cert, clusterId))?.layout;
}
