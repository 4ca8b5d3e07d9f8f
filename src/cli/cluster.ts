// `dmfs cluster add-node | revoke`: the admin's operations on the cluster's membership, done with the
// CA key in the admin bundle. Neither reads the data key.
import { Command } from "commander";
import { NodeClient } from "../client/node-client.ts";
import { addNode, loadClusterCa, loadIssuedCertificate, saveRevocation } from "../cluster/cluster-dir.ts";
import { loadConfig } from "../config/config.ts";
import { serialOfCertificate } from "../crypto/certificates.ts";
import { createRevocation } from "../crypto/revocation.ts";
import { DmfsError } from "../errors.ts";
import {
  addClusterOptions,
  type ClusterAccessOptions,
  DEFAULT_CONFIG,
  resolveClusterAccess,
} from "./cluster-access.ts";

export function clusterCommand(): Command {
  return new Command("cluster")
    .description("add nodes to the cluster and revoke them (needs the admin bundle with the CA key)")
    .addCommand(addNodeCommand())
    .addCommand(revokeCommand());
}

interface AddNodeCliOptions {
  out?: string;
  cluster?: string;
  config?: string;
  json?: boolean;
}

function addNodeCommand(): Command {
  return new Command("add-node")
    .description("issue a certificate for a new node and write its bundle; the data key is not touched")
    .argument("<name>", "the node's name, e.g. node-3 (letters, digits, '.', '_', '-')")
    .option("--out <dir>", "where to write the node bundle (default: <cluster dir>/nodes/<name>)")
    .option("--cluster <dir>", "the admin bundle (default: the config's cluster.dir)")
    .option("-c, --config <file>", `cluster config (default: ${DEFAULT_CONFIG})`)
    .option("--json", "print { name, bundle, serial } as JSON")
    .addHelpText(
      "after",
      "\nCopy the bundle directory to the new machine and start the node from it:\n  dmfs node --listen HOST:PORT --root DIR --bundle BUNDLE --join EXISTING-NODE:PORT",
    )
    .action(async (name: string, o: AddNodeCliOptions) => {
      const dir = o.cluster ?? loadConfig(o.config ?? DEFAULT_CONFIG).cluster.dir;
      const bundle = await addNode({ dir, name, ...(o.out === undefined ? {} : { out: o.out }) });
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ name, bundle: bundle.dir, serial: bundle.serial })}\n`);
        return;
      }
      process.stdout.write(
        `Issued a certificate for ${name} and wrote its bundle to ${bundle.dir}:\n` +
          bundle.files
            .filter((file) => file.startsWith(bundle.dir))
            .map((file) => `  ${file}\n`)
            .join("") +
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
      const nodes = await sendRevocation(access, revocation);
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ name, serial: serialOfCertificate(cert), nodes })}\n`);
        return;
      }
      process.stdout.write(
        `Revoked ${name}: ${nodes.length} node(s) enforce it now (${nodes.join(", ")}) and gossip it to the others; kept in ${saved}.\n`,
      );
    });
}

/**
 * Hands the revocation to the first node that answers, then straight to every other member it reports
 * alive, so they all refuse the certificate before this command returns; gossip reaches the rest.
 */
async function sendRevocation(
  access: Awaited<ReturnType<typeof resolveClusterAccess>>,
  revocation: Uint8Array,
): Promise<string[]> {
  const connect = (addrs: string[]) =>
    NodeClient.connect(addrs, { identity: access.identity, chunkSize: access.chunkSize, timeoutMs: 2_000 });
  const gateway = await connect(access.addrs).catch((err: unknown) => {
    throw new DmfsError(
      "E_UNREACHABLE",
      `The revocation is saved but no node took it (${(err as Error).message}); run the command again when a node is up.`,
    );
  });
  const nodes: string[] = [];
  try {
    await gateway.request({ t: "cluster.revoke", revocation }, "ok");
    nodes.push(gateway.addr);
    const others = (await gateway.status()).members.filter(
      (m) => m.state === "alive" && m.addr !== gateway.addr,
    );
    await Promise.all(
      others.map(async (member) => {
        const client = await connect([member.addr]).catch(() => undefined);
        if (!client) return;
        try {
          await client.request({ t: "cluster.revoke", revocation }, "ok");
          nodes.push(member.addr);
        } catch {
          // The member hears it through gossip instead.
        } finally {
          client.close();
        }
      }),
    );
  } finally {
    gateway.close();
  }
  return nodes;
}
