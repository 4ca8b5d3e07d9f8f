// Serves a node's metrics over plain HTTP at GET /metrics, for Prometheus to scrape. Off unless the node
// is given a metrics address; the figures name nodes and count bytes but hold no secret, still the
// address belongs on loopback or a private network (docs/deploy.md).
import { createServer, type Server } from "node:http";
import { DmfsError } from "../errors.ts";
import { joinHostPort, splitHostPort } from "./address.ts";
import type { Logger } from "./logger.ts";
import type { NodeMetrics } from "./metrics.ts";

export interface MetricsServer {
  addr: string;
  close(): Promise<void>;
}

export async function serveMetrics(addr: string, metrics: NodeMetrics, log: Logger): Promise<MetricsServer> {
  const { host, port } = splitHostPort(addr);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found: metrics are at /metrics\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end("only GET\n");
      return;
    }
    metrics.render().then(
      (text) =>
        res
          .writeHead(200, { "content-type": metrics.contentType })
          .end(req.method === "HEAD" ? undefined : text),
      (err: unknown) => {
        log.warn({ err }, "metrics scrape failed");
        res.writeHead(500, { "content-type": "text/plain" }).end("metrics unavailable, see the node's log\n");
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) =>
      reject(
        new DmfsError("E_IO", `cannot serve metrics on ${addr}: ${err.message}`, {
          subject: addr,
          cause: err,
        }),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  return {
    addr: joinHostPort(host, port),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A scraper's idle keep-alive connection would hold close() open until it times out.
        server.closeAllConnections();
      }),
  };
}
