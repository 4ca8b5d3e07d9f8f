// The certificate and key `dmfs s3 --tls-cert/--tls-key` serves HTTPS with. They are the user's own (a
// public CA's, or one they made), not the cluster's: S3 clients check them against their usual trust
// store, which knows nothing of the cluster CA. Checked at start, so a wrong file is one clear error
// rather than a gateway that fails every handshake.
import { readFile } from "node:fs/promises";
import { createSecureContext } from "node:tls";
import { DmfsError } from "../errors.ts";

export interface GatewayTls {
  cert: Buffer;
  key: Buffer;
}

/** Reads the pair, or undefined when neither flag is given; one without the other is a usage error. */
export async function loadGatewayTls(
  certFile: string | undefined,
  keyFile: string | undefined,
): Promise<GatewayTls | undefined> {
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) {
    throw new DmfsError("E_USAGE", "HTTPS needs both --tls-cert FILE and --tls-key FILE");
  }
  const tls = { cert: await readPem(certFile, "--tls-cert"), key: await readPem(keyFile, "--tls-key") };
  try {
    // Parses both and checks that the key belongs to the certificate, as the first handshake would.
    createSecureContext(tls);
  } catch (err) {
    throw new DmfsError(
      "E_CONFIG",
      `--tls-cert ${certFile} and --tls-key ${keyFile} are not a PEM certificate and its private key: ${(err as Error).message}`,
      { cause: err },
    );
  }
  return tls;
}

async function readPem(file: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new DmfsError("E_CONFIG", `${flag} ${file} cannot be read: ${(err as Error).message}`, {
      subject: file,
      cause: err,
    });
  }
}
