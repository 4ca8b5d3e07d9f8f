// The node's TLS server as an actor: every connection must present a cluster certificate (TLS 1.3,
// mutual), then a hello that matches; only then does the node actor hear of it (`inbound.opened`).
// Whatever fails on the way is counted by reason and closed; it never reaches the node's logic. Refusals
// are logged through `rejected`, which aggregates them by source (node/rejection-log.ts). An accepted
// connection's requests are capped (protocol/connection.ts, requestLimitsFor).
import type { Socket } from "node:net";
import { createServer, type TLSSocket } from "node:tls";
import { fromCallback } from "xstate";
import type { ClusterIdentity } from "../cluster/cluster-dir.ts";
import { DmfsError, isDmfsError } from "../errors.ts";
import type { CertificateBindings } from "../node/certificate-bindings.ts";
import { checkHello } from "../node/dial.ts";
import {
  Connection,
  type ConnectionCounters,
  exchangeHello,
  requestLimitsFor,
} from "../protocol/connection.ts";
import type { Hello } from "../protocol/messages.ts";
import { peerRole, serverOptions } from "../protocol/tls.ts";
import type { NodeEvent } from "./node.ts";

export interface ListenerDeps {
  identity: ClusterIdentity;
  host: string;
  port: number;
  hello: Hello;
  maxFrameBytes: number;
  counters: ConnectionCounters;
  /** False for a peer whose certificate is revoked (see node/revocation-guard.ts). */
  admit: (socket: TLSSocket) => boolean;
  onListening: () => void;
  onError: (err: Error) => void;
  /** A refused connection from `source` (its IP address): logged in aggregate, not once each. */
  rejected: (source: string, reason: string, detail: string) => void;
  /** Warnings of the certificate bindings (a second process with a node's certificate). */
  log: (msg: string, fields: Record<string, unknown>) => void;
  /** One certificate, one node: checked at hello, held while the connection is open. */
  bindings?: CertificateBindings;
}

export function countRejected(counters: ConnectionCounters, reason: string): void {
  counters.framesRejected[reason] = (counters.framesRejected[reason] ?? 0) + 1;
}

export function createListener(deps: ListenerDeps) {
  return fromCallback<NodeEvent>(({ sendBack }) => {
    const server = createServer({ ...serverOptions(deps.identity), handshakeTimeout: 5_000 });
    const sockets = new Set<TLSSocket>();

    // A TCP socket reads its peer's address once and keeps it: read it now, while the peer is there,
    // for a refusal logged after the peer already hung up (sourceOf).
    server.on("connection", (tcp: Socket) => tcp.remoteAddress);
    server.on("tlsClientError", (err, socket) => {
      countRejected(deps.counters, "E_TLS_HANDSHAKE");
      deps.rejected(sourceOf(socket), "E_TLS_HANDSHAKE", err.message);
      socket.destroy();
    });
    server.on("secureConnection", (socket: TLSSocket) => {
      socket.setNoDelay(true);
      const role = peerRole(socket);
      const source = sourceOf(socket);
      if (!role) {
        countRejected(deps.counters, "E_UNAUTHORIZED");
        deps.rejected(source, "E_UNAUTHORIZED", "the certificate names no dmfs role");
        socket.destroy();
        return;
      }
      if (!deps.admit(socket)) {
        countRejected(deps.counters, "E_REVOKED");
        deps.rejected(source, "E_REVOKED", "the certificate is revoked");
        socket.destroy();
        return;
      }
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
      const conn = new Connection(socket, {
        peerRole: role,
        maxFrameBytes: deps.maxFrameBytes,
        counters: deps.counters,
        requestLimits: requestLimitsFor(deps.maxFrameBytes),
      });
      // Every refusal closes the connection with its reason: a failed hello, a bad frame or message
      // (counted by the Connection), or a peer that left before its hello. Closes after that are ordinary.
      let accepted = false;
      conn.once("close", (reason) => {
        if (accepted && (reason === undefined || reason.code === "E_CONNECTION_CLOSED")) return;
        if (deps.bindings?.refusedHere(reason)) return; // logged once by the bindings, not per retry
        deps.rejected(
          source,
          reason?.code ?? "E_CONNECTION_CLOSED",
          reason?.message ?? "closed before hello",
        );
      });
      exchangeHello(
        conn,
        deps.hello,
        (theirs) =>
          checkHello(deps.hello, theirs, role) ??
          deps.bindings?.bindConnection(conn, socket, theirs, deps.log),
        undefined,
        { answer: true },
      ).then(
        (hello) => {
          accepted = true;
          sendBack({ type: "inbound.opened", conn, hello });
        },
        (err: unknown) => countRejected(deps.counters, isDmfsError(err) ? err.code : "E_HELLO_MISMATCH"),
      );
    });
    server.on("error", (err) => deps.onError(err));
    server.listen(deps.port, deps.host, deps.onListening);

    return () => {
      server.close();
      for (const s of sockets) s.destroy();
    };
  });
}

/**
 * The IP address a connection came from. A peer that hung up during the handshake leaves the TLS socket
 * without its address; the TCP socket under it (Node's `_parent`) kept the one read on "connection".
 */
function sourceOf(socket: TLSSocket): string {
  const tcp = (socket as TLSSocket & { _parent?: Socket })._parent;
  return socket.remoteAddress ?? tcp?.remoteAddress ?? "unknown";
}

export function listenError(addr: string, err: Error): DmfsError {
  return new DmfsError("E_IO", `cannot listen on ${addr}: ${err.message}`, { subject: addr, cause: err });
}
