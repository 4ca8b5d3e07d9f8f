// The cluster's X.509 certificates: a self-signed CA and the leaf certificates it issues to nodes and
// clients (all ECDSA P-256). A leaf carries its role in its subject's OU, which is how a peer is told
// apart from a client on a mutual-TLS link.
import { createPrivateKey, KeyObject, randomBytes, webcrypto } from "node:crypto";
// tsyringe, which @peculiar/x509 uses internally, needs the reflect-metadata API loaded first.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { DmfsError } from "../errors.ts";

x509.cryptoProvider.set(webcrypto);

export type CertificateRole = "node" | "client";

/** A certificate and its private key, both PEM (the key as PKCS#8). */
export interface PemPair {
  cert: string;
  key: string;
}

/** The parts of a peer certificate this module reads, as `TLSSocket.getPeerCertificate()` returns it. */
export interface PeerCertificateSubject {
  subject?: Partial<Record<string, string | string[]>> | undefined;
}

const KEY_ALGORITHM: webcrypto.EcKeyGenParams = { name: "ECDSA", namedCurve: "P-256" };
const SIGNING_ALGORITHM: webcrypto.EcdsaParams = { name: "ECDSA", hash: "SHA-256" };
const VALIDITY_YEARS = 10;
// Backdate a little so a peer whose clock runs slightly behind still accepts a fresh certificate.
const BACKDATE_MS = 5 * 60 * 1000;
const ROLE_PREFIX = "dmfs-";
const CLUSTER_PREFIX = "dmfs-";
// Names go into a distinguished name; restricting them keeps DN syntax (",", "=", "+") out.
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Creates the cluster's self-signed certificate authority. */
export async function createClusterCa(clusterId: string): Promise<PemPair> {
  assertSafeName(clusterId, "cluster id");
  const keys = await generateKeyPair();
  const { notBefore, notAfter } = validity();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialNumber(),
    name: `CN=dmfs cluster CA, O=${CLUSTER_PREFIX}${clusterId}`,
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString("pem"), key: privateKeyPem(keys.privateKey) };
}

/** Issues a leaf certificate for a node (`name` like "node-0") or a client, signed by the cluster CA. */
export async function issueCertificate(
  ca: PemPair,
  leaf: { clusterId: string; role: CertificateRole; name: string },
): Promise<PemPair> {
  assertSafeName(leaf.clusterId, "cluster id");
  assertSafeName(leaf.name, "certificate name");
  const caCert = new x509.X509Certificate(ca.cert);
  const caKey = await importSigningKey(ca.key);
  const keys = await generateKeyPair();
  const { notBefore, notAfter } = validity();
  const usages =
    leaf.role === "node"
      ? [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]
      : [x509.ExtendedKeyUsage.clientAuth];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: `CN=${leaf.name}, OU=${ROLE_PREFIX}${leaf.role}, O=${CLUSTER_PREFIX}${leaf.clusterId}`,
    issuer: caCert.subject,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(usages),
      new x509.SubjectAlternativeNameExtension([
        { type: "ip", value: "127.0.0.1" },
        { type: "ip", value: "::1" },
        { type: "dns", value: "localhost" },
      ]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { cert: cert.toString("pem"), key: privateKeyPem(keys.privateKey) };
}

/** The role a certificate was issued for, read from its subject OU; null when it names none. */
export function roleOfCertificate(
  peerCert: PeerCertificateSubject | null | undefined,
): CertificateRole | null {
  const unit = singleValue(peerCert?.subject?.OU);
  if (unit === `${ROLE_PREFIX}node`) return "node";
  if (unit === `${ROLE_PREFIX}client`) return "client";
  return null;
}

/** The cluster id a certificate was issued in, read from its subject O; null when it names none. */
export function clusterIdOfCertificate(peerCert: PeerCertificateSubject | null | undefined): string | null {
  const organisation = singleValue(peerCert?.subject?.O);
  return organisation?.startsWith(CLUSTER_PREFIX) ? organisation.slice(CLUSTER_PREFIX.length) : null;
}

// A subject with the attribute repeated is ambiguous, so it counts as naming nothing.
function singleValue(value: string | string[] | undefined): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function assertSafeName(value: string, what: string): void {
  if (!SAFE_NAME.test(value)) {
    throw new DmfsError(
      "E_USAGE",
      `The ${what} "${value}" may only contain letters, digits, ".", "_" and "-".`,
      {
        subject: value,
      },
    );
  }
}

function generateKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ["sign", "verify"]);
}

/** A certificate's serial number as lowercase hex without leading zeros, the form revocations use. */
export function serialOfCertificate(pem: string): string {
  return normalSerial(new x509.X509Certificate(pem).serialNumber);
}

/** Serial numbers come as hex in several spellings (case, leading zeros, colons); one form compares. */
export function normalSerial(hex: string): string {
  return hex.replace(/:/g, "").toLowerCase().replace(/^0+/, "") || "0";
}

export function importSigningKey(pem: string): Promise<webcrypto.CryptoKey> {
  const der = createPrivateKey(pem).export({ format: "der", type: "pkcs8" });
  return webcrypto.subtle.importKey("pkcs8", der, KEY_ALGORITHM, false, ["sign"]);
}

function privateKeyPem(key: webcrypto.CryptoKey): string {
  return KeyObject.from(key).export({ format: "pem", type: "pkcs8" }).toString();
}

function validity(): { notBefore: Date; notAfter: Date } {
  const notBefore = new Date(Date.now() - BACKDATE_MS);
  const notAfter = new Date(notBefore);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + VALIDITY_YEARS);
  return { notBefore, notAfter };
}

// 16 random bytes with the top bit cleared: a positive serial that never collides in practice.
function randomSerialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString("hex");
}
