// `dmfs cluster add-node | revoke`: the admin's operations on the cluster's membership, done with the
// CA key in the admin bundle. Neither reads the data key.
import { Command } from "commander";
import { addNode, loadClusterCa, loadIssuedCertificate, saveRevocation } from "../cluster/cluster-dir.ts";
import { loadConfig, parseCapacity, parseZone } from "../config/config.ts";
import { serialOfCertificate } from "../crypto/certificates.ts";
import { createRevocation } from "../crypto/revocation.ts";
import { DmfsError } from "../errors.ts";
import { admitToLayout } from "./admit-to-layout.ts";
import {
  addClusterOptions,
  type ClusterAccessOptions,
  DEFAULT_CONFIG,
  resolveClusterAccess,
} from "./cluster-access.ts";
import { clusterLayoutCommand } from "./cluster-layout.ts";
import { sendToMembers } from "./send-to-members.ts";

export function clusterCommand(): Command {
  return new Command("cluster")
    .description("add nodes to the cluster and revoke them (needs the admin bundle with the CA key)")
    .addCommand(addNodeCommand())
    .addCommand(revokeCommand())
    .addCommand(clusterLayoutCommand());
}

interface AddNodeCliOptions {
  out?: string;
  cluster?: string;
  config?: string;
  node?: string;
  capacity?: string;
  zone?: string;
  json?: boolean;
}

function addNodeCommand(): Command {
  return new Command("add-node")
    .description("issue a certificate for a new node and write its bundle; the data key is not touched")
    .argument("<name>", "the node's name, e.g. node-3 (letters, digits, '.', '_', '-')")
    .option("--out <dir>", "where to write the node bundle (default: <cluster dir>/nodes/<name>)")
    .option("--cluster <dir>", "the admin bundle (default: the config's cluster.dir)")
    .option("-c, --config <file>", `cluster config (default: ${DEFAULT_CONFIG})`)
    .option("-n, --node <host:port>", "read the cluster's layout from this node (else from --config's nodes)")
    .option(
      "--capacity <bytes>",
      "the node's weight in the layout, e.g. 500G (default: the median of the others)",
    )
    .option(
      "--zone <name>",
      "the node's zone in the layout, e.g. room-2 (default: none until its config names one)",
    )
    .option("--json", "print { name, bundle, serial, nodeId, layoutVersion } as JSON")
    .addHelpText(
      "after",
      "\nWhen a layout is known - this admin bundle signed one, or --node/--config reach the cluster - the new\nnode gets an id and the next layout version, which includes it, in its bundle: it joins the layout\nwhen it first starts. Copy the bundle directory to the new machine and start the node from it:\n  dmfs node --listen HOST:PORT --root DIR --bundle BUNDLE --join EXISTING-NODE:PORT",
    )
    .action(async (name: string, o: AddNodeCliOptions) => {
      const dir = o.cluster ?? loadConfig(o.config ?? DEFAULT_CONFIG).cluster.dir;
      const capacity = o.capacity === undefined ? undefined : parseCapacity(o.capacity);
      if (o.capacity !== undefined && capacity === undefined) {
        throw new DmfsError("E_USAGE", "--capacity must be a number of bytes, such as 500G or 1099511627776");
      }
      const zone = o.zone === undefined ? undefined : parseZone(o.zone);
      if (o.zone !== undefined && zone === undefined) {
        throw new DmfsError(
          "E_USAGE",
          "--zone must be a name of 1 to 64 characters without spaces, such as room-2",
        );
      }
      const bundle = await addNode({ dir, name, ...(o.out === undefined ? {} : { out: o.out }) });
      const admitted = await admitToLayout({ dir, name, bundleDir: bundle.dir, capacity, zone, o });
      if (o.json) {
        process.stdout.write(
          `${JSON.stringify({ name, bundle: bundle.dir, serial: bundle.serial, nodeId: admitted?.nodeId ?? null, layoutVersion: admitted?.version ?? null })}\n`,
        );
        return;
      }
      process.stdout.write(
        `Issued a certificate for ${name} and wrote its bundle to ${bundle.dir}:\n` +
          bundle.files
            .filter((file) => file.startsWith(bundle.dir))
            .map((file) => `  ${file}\n`)
            .join("") +
          (admitted
            ? `It is node ${admitted.nodeId} in layout version ${admitted.version}, which it brings to the cluster when it first starts.\n`
            : `No layout is known (none signed yet, or the cluster was not asked): it joins as a member and owns data while the cluster has no signed layout.\n`) +
          `Copy that directory to the node's machine and run:\n` +
          `  dmfs node --listen HOST:PORT --root DIR --bundle ${bundle.dir} --join A-RUNNING-NODE:PORT\n`,
      );
    });
}

function revokeCommand(): Command {
  return addClusterOptions(
    new Command("revoke")
      .description("revoke a node's certificate: every node refuses it from then on")
      .argument("<node>", "the node's name, as given to init (node-<i>) or add-node"),
  )
    .option("--json", "print { name, serial, nodes } as JSON")
    .addHelpText(
      "after",
      "\nThe revocation is signed with the CA key, kept in <cluster dir>/revocations/, sent to the nodes that\nanswer and gossiped by them to the rest; a node down now learns it when it rejoins. Running the\ncommand again sends it again.",
    )
    .action(async (name: string, o: ClusterAccessOptions & { json?: boolean }) => {
      const access = await resolveClusterAccess(o);
      const { ca } = await loadClusterCa(access.clusterDir);
      const cert = await loadIssuedCertificate(access.clusterDir, name);
      const revocation = await createRevocation(ca, cert);
      const saved = await saveRevocation(access.clusterDir, name, revocation);
      // Every alive node refuses the certificate before this command returns; gossip reaches the rest.
      const nodes = await sendToMembers(
        access,
        { t: "cluster.revoke", revocation },
        {
          timeoutMs: 2_000,
          unreachable: (reason) =>
            `The revocation is saved but no node took it (${reason}); run the command again when a node is up.`,
        },
      );
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ name, serial: serialOfCertificate(cert), nodes })}\n`);
        return;
      }
      process.stdout.write(
        `Revoked ${name}: ${nodes.length} node(s) enforce it now (${nodes.join(", ")}) and gossip it to the others; kept in ${saved}.\n`,
      );
    });
}
