// host:port strings as the config and the wire carry them (IPv6 hosts in brackets).
import { DmfsError } from "../errors.ts";

export function splitHostPort(addr: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port < 1 || port > 65535) {
    throw new DmfsError("E_USAGE", `"${addr}" is not a host:port address`, { subject: addr });
  }
  return { host: (m[1] ?? m[2]) as string, port };
}

export function joinHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
