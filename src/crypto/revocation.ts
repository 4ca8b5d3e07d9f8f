// A node revocation: an X.509 CRL signed with the cluster CA key that lists one revoked certificate.
// Only the admin (who holds the CA key) can make one; every node checks it against the CA certificate
// in its bundle, so a revocation may travel through any node, or any client, without being trusted.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { DmfsError } from "../errors.ts";
import { MAX_REVOCATION_BYTES } from "../protocol/messages.ts";
import { importSigningKey, normalSerial, type PemPair } from "./certificates.ts";

const SIGNING_ALGORITHM = { name: "ECDSA", hash: "SHA-256" };
// A CRL's nextUpdate says when to fetch a fresh list; ours never expire, revocation is forever.
const VALIDITY_YEARS = 100;

/** Signs a revocation of the certificate `certPem` with the cluster CA; returns its DER bytes. */
export async function createRevocation(ca: PemPair, certPem: string): Promise<Uint8Array> {
  const caCert = new x509.X509Certificate(ca.cert);
  const revoked = new x509.X509Certificate(certPem);
  if (revoked.issuer !== caCert.subject) {
    throw new DmfsError("E_USAGE", "That certificate was not issued by this cluster's CA.");
  }
  const now = new Date();
  const nextUpdate = new Date(now);
  nextUpdate.setUTCFullYear(now.getUTCFullYear() + VALIDITY_YEARS);
  const crl = await x509.X509CrlGenerator.create({
    issuer: caCert.subject,
    thisUpdate: now,
    nextUpdate,
    entries: [{ serialNumber: revoked.serialNumber, revocationDate: now }],
    signingKey: await importSigningKey(ca.key),
    signingAlgorithm: SIGNING_ALGORITHM,
  });
  return new Uint8Array(crl.rawData);
}

/**
 * Checks a revocation against the cluster CA certificate and returns the serial numbers it revokes
 * (normalised, see `normalSerial`). Not a CRL, another issuer or a bad signature is E_MESSAGE_INVALID,
 * so a forged revocation is rejected like any other bad message.
 */
export async function verifyRevocation(caPem: string, der: Uint8Array): Promise<string[]> {
  if (der.length > MAX_REVOCATION_BYTES) throw invalid(`it is larger than ${MAX_REVOCATION_BYTES} bytes`);
  let crl: x509.X509Crl;
  try {
    crl = new x509.X509Crl(Uint8Array.from(der));
  } catch {
    throw invalid("it is not a certificate revocation list");
  }
  const caCert = new x509.X509Certificate(caPem);
  if (crl.issuer !== caCert.subject) throw invalid("it was not issued by this cluster's CA");
  let signed = false;
  try {
    signed = await crl.verify({ publicKey: caCert });
  } catch {
    signed = false;
  }
  if (!signed) throw invalid("its signature does not verify against this cluster's CA");
  return crl.entries.map((entry) => normalSerial(entry.serialNumber));
}

function invalid(why: string): DmfsError {
  return new DmfsError("E_MESSAGE_INVALID", `The revocation is not valid: ${why}.`);
}
