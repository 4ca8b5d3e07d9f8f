// Hands one admin message (a revocation, a signed layout) to the first node that answers and then straight
// to every other member it reports alive, so they all act on it before the command returns; a member that
// cannot be reached hears it through gossip instead.
import { NodeClient } from "../client/node-client.ts";
import { DmfsError } from "../errors.ts";
import type { OutgoingRequest } from "../protocol/connection.ts";
import type { ClusterAccess } from "./cluster-access.ts";

/**
 * Sends `message` (answered with `ok`) to the gateway and every alive member; the addresses of the nodes
 * that took it. No node answering is E_UNREACHABLE with `unreachable(reason)` as its sentence.
 */
export async function sendToMembers(
  access: Pick<ClusterAccess, "addrs" | "identity" | "chunkSize">,
  message: OutgoingRequest,
  opts: { timeoutMs: number; unreachable: (reason: string) => string },
): Promise<string[]> {
  const connect = (addrs: string[]) =>
    NodeClient.connect(addrs, {
      identity: access.identity,
      chunkSize: access.chunkSize,
      timeoutMs: opts.timeoutMs,
    });
  const gateway = await connect(access.addrs).catch((err: unknown) => {
    throw new DmfsError("E_UNREACHABLE", opts.unreachable((err as Error).message));
  });
  const nodes: string[] = [];
  try {
    await gateway.request(message, "ok");
    nodes.push(gateway.addr);
    const others = (await gateway.status()).members.filter(
      (m) => m.state === "alive" && m.addr !== gateway.addr,
    );
    await Promise.all(
      others.map(async (member) => {
        const client = await connect([member.addr]).catch(() => undefined);
        if (!client) return;
        try {
          await client.request(message, "ok");
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
