// The node's TLS server as an actor: every connection must present a cluster certificate (TLS 1.3,
// mutual), then a hello that matches; only then does the node actor hear of it (`inbound.opened`).
// Whatever fails on the way is counted by reason and closed; it never reaches the node's logic.
import { createServer, type TLSSocket } from "node:tls";
import { fromCallback } from "xstate";
import type { ClusterIdentity } from "../cluster/cluster-dir.ts";
import { DmfsError, isDmfsError } from "../errors.ts";
import type { CertificateBindings } from "../node/certificate-bindings.ts";
import { checkHello } from "../node/dial.ts";
import { Connection, type ConnectionCounters, exchangeHello } from "../protocol/connection.ts";
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
  onListening: () => void;
  onError: (err: Error) => void;
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

    server.on("tlsClientError", (err, socket) => {
      countRejected(deps.counters, "E_TLS_HANDSHAKE");
      deps.log("rejected a connection that failed the TLS handshake", { reason: err.message });
      socket.destroy();
    });
    server.on("secureConnection", (socket: TLSSocket) => {
      socket.setNoDelay(true);
      const role = peerRole(socket);
      if (!role) {
        countRejected(deps.counters, "E_UNAUTHORIZED");
        socket.destroy();
        return;
      }
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
      const conn = new Connection(socket, {
        peerRole: role,
        maxFrameBytes: deps.maxFrameBytes,
        counters: deps.counters,
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
        (hello) => sendBack({ type: "inbound.opened", conn, hello }),
        (err: unknown) => {
          countRejected(deps.counters, isDmfsError(err) ? err.code : "E_HELLO_MISMATCH");
          if (deps.bindings?.refusedHere(err)) return; // logged once by the bindings, not per retry
          deps.log("rejected a connection at hello", {
            remote: conn.remoteAddress,
            reason: err instanceof Error ? err.message : String(err),
          });
        },
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

export function listenError(addr: string, err: Error): DmfsError {
  return new DmfsError("E_IO", `cannot listen on ${addr}: ${err.message}`, { subject: addr, cause: err });
}
