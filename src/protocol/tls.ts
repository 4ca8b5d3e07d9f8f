// Mutual TLS 1.3 for every DMFS connection: both ends present a certificate issued by the cluster CA,
// and the role written in that certificate (node or client) tells who is on the other end.
import type { ConnectionOptions, PeerCertificate, TLSSocket, TlsOptions } from "node:tls";
import type { ClusterIdentity } from "../cluster/cluster-dir.ts";
import { type CertificateRole, clusterIdOfCertificate, roleOfCertificate } from "../crypto/certificates.ts";
import { DmfsError } from "../errors.ts";

/** Options for `tls.createServer`: accept only peers with a certificate from the cluster CA. */
export function serverOptions(identity: ClusterIdentity): TlsOptions {
  return {
    ca: identity.ca,
    cert: identity.cert,
    key: identity.key,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: "TLSv1.3",
    maxVersion: "TLSv1.3",
  };
}

/** Options for `tls.connect` (add host and port): talk only to a node of the same cluster. */
export function clientOptions(identity: ClusterIdentity): ConnectionOptions {
  return {
    ca: identity.ca,
    cert: identity.cert,
    key: identity.key,
    rejectUnauthorized: true,
    minVersion: "TLSv1.3",
    maxVersion: "TLSv1.3",
    // Called only once the chain is verified against the cluster CA. Peers are identified by the role
    // and cluster in their certificate, not by host name: every node listens on some local address.
    checkServerIdentity: (_host: string, cert: PeerCertificate): Error | undefined => {
      if (roleOfCertificate(cert) !== "node") {
        return new DmfsError("E_UNAUTHORIZED", "The server's certificate was not issued to a DMFS node.");
      }
      if (clusterIdOfCertificate(cert) !== identity.clusterId) {
        return new DmfsError(
          "E_UNAUTHORIZED",
          `The server's certificate belongs to another cluster than ${identity.clusterId}.`,
        );
      }
      return undefined;
    },
  };
}

/** The verified role of the peer on a TLS socket; null unless its certificate chain was verified. */
export function peerRole(socket: TLSSocket): CertificateRole | null {
  if (!socket.authorized) return null;
  return roleOfCertificate(socket.getPeerCertificate());
}
