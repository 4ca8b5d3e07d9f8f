import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import {
  clusterIdOfCertificate,
  createClusterCa,
  issueCertificate,
  type PemPair,
  roleOfCertificate,
} from "../../src/crypto/certificates.ts";

const CLUSTER_ID = "0123456789abcdef0123456789abcdef";
const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
const YEAR_MS = 365 * 24 * 60 * 60 * 1000;

let ca: PemPair;
let caCert: X509Certificate;
let node: PemPair;
let client: PemPair;

beforeAll(async () => {
  ca = await createClusterCa(CLUSTER_ID);
  caCert = new X509Certificate(ca.cert);
  node = await issueCertificate(ca, { clusterId: CLUSTER_ID, role: "node", name: "node-0" });
  client = await issueCertificate(ca, { clusterId: CLUSTER_ID, role: "client", name: "client" });
});

function validYears(cert: X509Certificate): number {
  return (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / YEAR_MS;
}

function expectKeyMatches(pair: PemPair): void {
  expect(pair.key).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  const privateKey = createPrivateKey(pair.key);
  expect(privateKey.asymmetricKeyType).toBe("ec");
  expect(privateKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
  const fromKey = createPublicKey(privateKey).export({ format: "der", type: "spki" });
  const fromCert = new X509Certificate(pair.cert).publicKey.export({ format: "der", type: "spki" });
  expect(Buffer.compare(fromKey, fromCert)).toBe(0);
}

describe("createClusterCa", () => {
  it("creates a self-signed P-256 CA valid for ten years", () => {
    expect(ca.cert).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
    expect(caCert.ca).toBe(true);
    expect(caCert.checkIssued(caCert)).toBe(true);
    expect(caCert.verify(caCert.publicKey)).toBe(true);
    expect(caCert.subject).toContain(`O=dmfs-${CLUSTER_ID}`);
    expect(validYears(caCert)).toBeGreaterThan(9.99);
    expect(validYears(caCert)).toBeLessThan(10.01);
    expectKeyMatches(ca);
  });

  it("marks the CA as a critical CA constraint allowed to sign certificates", async () => {
    // Loaded after certificates.ts, which prepares what @peculiar/x509 needs to load.
    const x509 = await import("@peculiar/x509");
    const parsed = new x509.X509Certificate(ca.cert);
    const constraints = parsed.getExtension(x509.BasicConstraintsExtension);
    expect(constraints?.ca).toBe(true);
    expect(constraints?.critical).toBe(true);
    const usages = parsed.getExtension(x509.KeyUsagesExtension);
    expect((usages?.usages ?? 0) & x509.KeyUsageFlags.keyCertSign).toBeTruthy();
  });

  it("gives every CA its own key and serial number", async () => {
    const other = await createClusterCa(CLUSTER_ID);
    const otherCert = new X509Certificate(other.cert);
    expect(otherCert.serialNumber).not.toBe(caCert.serialNumber);
    expect(otherCert.verify(caCert.publicKey)).toBe(false);
  });
});

describe("issueCertificate", () => {
  it("issues a node certificate signed by the CA with its role, name and cluster in the subject", () => {
    const cert = new X509Certificate(node.cert);
    expect(cert.subject.split("\n")).toEqual(["CN=node-0", "OU=dmfs-node", `O=dmfs-${CLUSTER_ID}`]);
    expect(cert.issuer).toBe(caCert.subject);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual([SERVER_AUTH, CLIENT_AUTH]);
    expect(cert.subjectAltName).toBe("IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:localhost");
    expect(validYears(cert)).toBeGreaterThan(9.99);
    expectKeyMatches(node);
  });

  it("issues a client certificate usable only for client authentication", () => {
    const cert = new X509Certificate(client.cert);
    expect(cert.subject.split("\n")).toEqual(["CN=client", "OU=dmfs-client", `O=dmfs-${CLUSTER_ID}`]);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.keyUsage).toEqual([CLIENT_AUTH]);
    expectKeyMatches(client);
  });

  it("refuses names that could smuggle extra attributes into the subject", async () => {
    await expect(
      issueCertificate(ca, { clusterId: CLUSTER_ID, role: "client", name: "x, OU=dmfs-node" }),
    ).rejects.toMatchObject({ code: "E_USAGE" });
    await expect(createClusterCa("bad id")).rejects.toMatchObject({ code: "E_USAGE" });
  });
});

describe("roleOfCertificate", () => {
  it("reads the role from the subject OU as getPeerCertificate() reports it", () => {
    expect(roleOfCertificate({ subject: { CN: "node-0", OU: "dmfs-node", O: "dmfs-x" } })).toBe("node");
    expect(roleOfCertificate({ subject: { CN: "client", OU: "dmfs-client", O: "dmfs-x" } })).toBe("client");
  });

  it("returns null for a foreign, missing or repeated OU and for no certificate at all", () => {
    expect(roleOfCertificate({ subject: { CN: "x", OU: "admins" } })).toBeNull();
    expect(roleOfCertificate({ subject: { CN: "x" } })).toBeNull();
    expect(roleOfCertificate({ subject: { OU: ["dmfs-client", "dmfs-node"] } })).toBeNull();
    expect(roleOfCertificate({})).toBeNull();
    expect(roleOfCertificate(null)).toBeNull();
  });
});

describe("clusterIdOfCertificate", () => {
  it("reads the cluster id from the subject O", () => {
    expect(clusterIdOfCertificate({ subject: { O: `dmfs-${CLUSTER_ID}` } })).toBe(CLUSTER_ID);
    expect(clusterIdOfCertificate({ subject: { O: "Example Ltd" } })).toBeNull();
    expect(clusterIdOfCertificate(undefined)).toBeNull();
  });
});
