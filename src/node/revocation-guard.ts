// The node's side of revocation: the revocations it knows (each checked against the CA certificate in
// its bundle and kept in `<root>/revocations/` across restarts), a check of every TLS peer - inbound and
// outbound - against them, and the closing of links whose certificate is revoked after they opened.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { writeFileAtomically } from "../cluster/cluster-dir.ts";
import { normalSerial } from "../crypto/certificates.ts";
import { verifyRevocation } from "../crypto/revocation.ts";
import type { Logger } from "./logger.ts";

const DIR = "revocations";

export class RevocationGuard {
  /** Revoked serial number -> the revocation (DER) that says so. */
  private readonly revoked = new Map<string, Uint8Array>();
  /** Digests of revocations already seen, so gossip repeating them costs no verification. */
  private readonly seen = new Set<string>();
  /** Open, verified TLS sockets by the serial number of the peer's certificate. */
  private readonly sockets = new Map<TLSSocket, string>();
  /** Called with the serials that became revoked, after they are on disk and enforced. */
  onRevoked: (serials: string[]) => void = () => {};

  private constructor(
    private readonly caPem: string,
    private readonly dir: string,
    private readonly log: Logger,
  ) {}

  /** Loads the revocations kept in `root`; one that no longer verifies is logged and ignored. */
  static async open(root: string, caPem: string, log: Logger): Promise<RevocationGuard> {
    const guard = new RevocationGuard(caPem, join(root, DIR), log);
    if (!existsSync(guard.dir)) return guard;
    for (const name of (await readdir(guard.dir)).filter((n) => n.endsWith(".crl"))) {
      const der = new Uint8Array(await readFile(join(guard.dir, name)));
      try {
        guard.remember(der, await verifyRevocation(caPem, der));
      } catch (err) {
        log.warn({ file: join(guard.dir, name), reason: (err as Error).message }, "ignored a revocation");
      }
    }
    return guard;
  }

  isRevoked(serial: string): boolean {
    return this.revoked.has(normalSerial(serial));
  }

  /**
   * Checks the certificate of a freshly verified TLS socket: false for a revoked one (the caller
   * closes it), otherwise true, and the socket is closed later should its certificate be revoked.
   */
  admit(socket: TLSSocket): boolean {
    const serial = normalSerial(socket.getPeerCertificate().serialNumber ?? "");
    if (this.revoked.has(serial)) return false;
    this.sockets.set(socket, serial);
    socket.once("close", () => this.sockets.delete(socket));
    return true;
  }

  /**
   * Takes revocations from the admin or from gossip: each is verified against the CA certificate,
   * kept on disk, then enforced - open links with a revoked certificate are closed. Throws on the first
   * one that does not verify, after taking the ones before it.
   */
  async accept(revocations: readonly Uint8Array[]): Promise<string[]> {
    const added: string[] = [];
    for (const der of revocations) {
      const digest = createHash("sha256").update(der).digest("hex");
      if (this.seen.has(digest)) continue;
      // Marked before the awaits: the same revocation gossiped by two peers at once is taken once.
      this.seen.add(digest);
      try {
        const serials = await verifyRevocation(this.caPem, der);
        const fresh = serials.filter((s) => !this.revoked.has(s));
        if (fresh.length > 0) {
          await mkdir(this.dir, { recursive: true });
          await writeFileAtomically(join(this.dir, `${fresh[0]}.crl`), der, 0o644);
        }
        this.remember(der, serials);
        added.push(...fresh);
      } catch (err) {
        this.seen.delete(digest);
        throw err;
      }
    }
    if (added.length > 0) {
      const closed = this.closeRevoked();
      this.log.warn({ serials: added, closed }, "certificate revoked: its connections are refused");
      this.onRevoked(added);
    }
    return added;
  }

  /** Every revocation known, one per revoked certificate (what gossip carries). */
  all(): Uint8Array[] {
    return [...new Set(this.revoked.values())];
  }

  private remember(der: Uint8Array, serials: string[]): void {
    for (const serial of serials) if (!this.revoked.has(serial)) this.revoked.set(serial, der);
  }

  private closeRevoked(): number {
    let closed = 0;
    for (const [socket, serial] of this.sockets) {
      if (!this.revoked.has(serial)) continue;
      socket.destroy();
      this.sockets.delete(socket);
      closed++;
    }
    return closed;
  }
}
