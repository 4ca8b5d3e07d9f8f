// One certificate, one node. A node certificate names its node (its subject CN, "node-0"); a node id is
// random and chosen by the process. While any connection of a node is open, its certificate name and its
// node id are bound to each other, so a second process presenting the same certificate under another
// id - or the same id under another certificate - is refused. This node's own certificate and id are
// bound for as long as it runs. A restarted node keeps its id (node-id in its root), so it is let in at
// once even while its old connections have not closed yet.
import { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import { DmfsError, isDmfsError } from "../errors.ts";
import type { Connection } from "../protocol/connection.ts";
import type { Hello } from "../protocol/messages.ts";

interface Binding {
  certName: string;
  nodeId: string;
  /** Open connections holding the binding; Infinity for this node's own. */
  connections: number;
}

export type Claim = { ok: true; release: () => void } | { ok: false; error: DmfsError; firstTime: boolean };

export class CertificateBindings {
  private readonly byCert = new Map<string, Binding>();
  private readonly byNode = new Map<string, Binding>();
  /** Refusals already logged, by "certName node": a process that keeps retrying is logged once. */
  private readonly reported = new Set<string>();
  private readonly refusals = new WeakSet<DmfsError>();
  /** Peer addresses that refused this node's certificate, logged once until a dial there succeeds. */
  private readonly refusedBy = new Set<string>();

  constructor(self: { certName: string; nodeId: string }) {
    const own: Binding = { ...self, connections: Number.POSITIVE_INFINITY };
    this.byCert.set(self.certName, own);
    this.byNode.set(self.nodeId, own);
  }

  /** Binds `certName` and `nodeId` to each other until `release`, unless either is bound elsewhere. */
  claim(certName: string, nodeId: string): Claim {
    const byCert = this.byCert.get(certName);
    const byNode = this.byNode.get(nodeId);
    const conflict =
      byCert && byCert.nodeId !== nodeId
        ? `certificate ${certName} is in use by node ${short(byCert.nodeId)}${whose(byCert)}`
        : byNode && byNode.certName !== certName
          ? `node id ${short(nodeId)} belongs to certificate ${byNode.certName}${whose(byNode)}`
          : undefined;
    if (conflict) {
      const key = `${certName} ${nodeId}`;
      const firstTime = !this.reported.has(key);
      this.reported.add(key);
      const error = new DmfsError(
        "E_CERT_IN_USE",
        `refused node ${short(nodeId)} presenting certificate ${certName}: ${conflict}; one certificate is one node`,
        { subject: certName },
      );
      this.refusals.add(error);
      return { ok: false, error, firstTime };
    }
    const binding = byCert ?? { certName, nodeId, connections: 0 };
    binding.connections++;
    this.byCert.set(certName, binding);
    this.byNode.set(nodeId, binding);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        if (--binding.connections > 0) return;
        this.byCert.delete(certName);
        this.byNode.delete(nodeId);
        for (const key of this.reported) if (key.startsWith(`${certName} `)) this.reported.delete(key);
      },
    };
  }

  /** A dial to `addr` failed: a peer refusing this node's certificate is logged once, not per retry. */
  noteDialFailed(
    addr: string,
    err: unknown,
    log: (msg: string, fields: Record<string, unknown>) => void,
  ): void {
    if (!isDmfsError(err, "E_CERT_IN_USE") || this.refusedHere(err) || this.refusedBy.has(addr)) return;
    this.refusedBy.add(addr);
    log("refused by a peer: another node process is already using this node's certificate", {
      peer: addr,
      reason: err.message,
    });
  }

  noteDialed(addr: string): void {
    this.refusedBy.delete(addr);
  }

  /** Whether this error is a refusal made here (rather than one a peer sent us). */
  refusedHere(err: unknown): boolean {
    return err instanceof DmfsError && this.refusals.has(err);
  }

  /**
   * The hello check for a node-to-node connection: binds the peer's certificate to the node id it
   * claims for as long as `conn` is open. Logs a refusal the first time it is made.
   */
  bindConnection(
    conn: Connection,
    socket: TLSSocket,
    theirs: Hello,
    log: (msg: string, fields: Record<string, unknown>) => void,
  ): DmfsError | undefined {
    // A node's hello always names its node id (the hello schema requires it).
    if (theirs.role !== "node" || !theirs.nodeId) return undefined;
    const certName = peerCertificateName(socket);
    if (!certName) return new DmfsError("E_UNAUTHORIZED", "the peer's node certificate names no node");
    const claim = this.claim(certName, theirs.nodeId);
    if (!claim.ok) {
      if (claim.firstTime) {
        log(claim.error.message, { remote: conn.remoteAddress, listenAddr: theirs.listenAddr });
      }
      return claim.error;
    }
    if (conn.isClosed) claim.release();
    else conn.once("close", claim.release);
    return undefined;
  }
}

/** The node name (subject CN) of the verified certificate the peer presented on `socket`. */
export function peerCertificateName(socket: TLSSocket): string | undefined {
  const cn = socket.getPeerCertificate()?.subject?.CN;
  return typeof cn === "string" && cn.length > 0 ? cn : undefined;
}

/** The node name (subject CN) in one of our own PEM certificates. */
export function certificateName(pem: string): string {
  const cn = new X509Certificate(pem).subject.split("\n").find((part) => part.startsWith("CN="));
  if (!cn) throw new DmfsError("E_CLUSTER_MISSING", "this node's certificate names no node (no CN)");
  return cn.slice(3);
}

function whose(binding: Binding): string {
  return binding.connections === Number.POSITIVE_INFINITY ? " (this node)" : ", which is connected now";
}

function short(nodeId: string): string {
  return nodeId.slice(0, 8);
}
