// A running node: the composition root. It runs two actors with the real work provided: the store actor
// (src/actors/store.ts), which opens the node's disk state (database, chunk store), runs the background
// jobs and closes it all in order, and the node actor, with the real listener, peer links and request
// handlers. `dmfs node` calls startNode; tests and `dmfs up` run it as a child process.
import { mkdir } from "node:fs/promises";
import type { TLSSocket } from "node:tls";
import { type AnyActorRef, createActor, fromPromise, toPromise, waitFor } from "xstate";
import { createInboundServer } from "../actors/inbound.ts";
import { createListener, listenError } from "../actors/listener.ts";
import { type LinkRef, linkId, type Member, nodeMachine } from "../actors/node.ts";
import { heartbeat, type LinkTiming, peerLinkMachine } from "../actors/peer-link.ts";
import {
  type BackgroundJob,
  jobChildren,
  type StoreEvent,
  type StoreJobName,
  storeMachine,
} from "../actors/store.ts";
import { loadNodeBundle } from "../cluster/cluster-dir.ts";
import { FullPeers } from "../cluster/full-peers.ts";
import { HybridClock } from "../cluster/hlc.ts";
import { PeerClocks } from "../cluster/peer-clocks.ts";
import { TombstoneAcks } from "../cluster/tombstone-acks.ts";
import type { Blake3Backend } from "../crypto/blake3.ts";
import { CHUNK_OVERHEAD_BYTES } from "../crypto/chunk-format.ts";
import type { ConnectionCounters } from "../protocol/connection.ts";
import { maxFrameBytesFor } from "../protocol/frame.ts";
import { type Hello, PROTOCOL_VERSION } from "../protocol/messages.ts";
import { AcksSent } from "../store/acks-sent.ts";
import { Catalog } from "../store/catalog.ts";
import { CatalogGroupCommit } from "../store/catalog-group-commit.ts";
import { ChunkStore } from "../store/chunk-store.ts";
import { DEFAULT_RESERVE, DiskReserve, type ReserveSetting } from "../store/disk-reserve.ts";
import { MemberTable } from "../store/members.ts";
import { NodeDatabase } from "../store/node-database.ts";
import { loadOrCreateNodeId, readIssuedNodeId } from "../store/node-identity.ts";
import { CryptoPool } from "../workers/crypto-pool.ts";
import { Absence } from "./absence.ts";
import { joinHostPort, splitHostPort } from "./address.ts";
import { AntiEntropy } from "./anti-entropy.ts";
import { CertificateBindings, certificateName } from "./certificate-bindings.ts";
import { dialNode } from "./dial.ts";
import { DEFAULT_GC_GRACE_MS, GarbageCollector } from "./garbage-collector.ts";
import { Gateway } from "./gateway.ts";
import { LayoutKeeper } from "./layout-keeper.ts";
import type { Logger } from "./logger.ts";
import type { MeshView } from "./mesh-view.ts";
import { NodeMetrics } from "./metrics.ts";
import { type MetricsServer, serveMetrics } from "./metrics-server.ts";
import { RejectionLog } from "./rejection-log.ts";
import { rejoinIfReAdded } from "./rejoin.ts";
import { Repair } from "./repair.ts";
import { createRequestHandler } from "./request-handlers.ts";
import { RevocationGuard } from "./revocation-guard.ts";
import { Scrub } from "./scrub.ts";
import { type Activity, StatusPublisher } from "./status-publisher.ts";

export interface NodeOptions {
  listenAddr: string;
  root: string;
  /** Bootstrap peers ("host:port"). */
  bootstrap: string[];
  /** The node's own bundle: cluster.json, the CA certificate, its certificate and key, nothing else. */
  bundleDir: string;
  chunkSize: number;
  replication: number;
  writeQuorum: number;
  heartbeatMs: number;
  failureTimeoutMs: number;
  logger: Logger;
  /** Unreferenced chunks older than this are collected (default 1 hour). */
  gcGraceMs?: number;
  /** Time between periodic garbage collection passes (default 10 minutes). */
  gcIntervalMs?: number;
  /** Crypto worker threads; defaults to the available cores. */
  threads?: number;
  /** "host:port" to serve Prometheus metrics on (GET /metrics); none when absent. */
  metricsAddr?: string;
  /** Bytes this node offers (its weight in the next layout); default: its disk's free space. */
  capacity?: number;
  /** The zone this node is in (a room, a site); the admin puts it in the next layout. */
  zone?: string;
  /** Time between periodic repair scans (default 30 s). */
  repairIntervalMs?: number;
  /** Free space kept on the root's disk; below it the node takes no new chunk copies (default 5%). */
  diskReserve?: ReserveSetting;
  /** The most megabytes per second repair pushes (default 100; 0: no limit). */
  rebalanceMBps?: number;
  /** Tombstones are kept at least this long and until every layout node acknowledged them (default 7 days). */
  tombstoneGraceMs?: number;
}

/** How often a node reads its disk's free space when nothing is written (writes read it themselves). */
const DISK_CHECK_INTERVAL_MS = 1_000;

/**
 * The wall clock this node stamps writes with. DMFS_TEST_CLOCK_OFFSET_MS shifts it, and is read here
 * only: a test seam for running a node whose clock is wrong, never a setting.
 */
const TEST_CLOCK_OFFSET_MS = Number.parseInt(process.env.DMFS_TEST_CLOCK_OFFSET_MS ?? "0", 10) || 0;
function wallClock(): number {
  return Date.now() + TEST_CLOCK_OFFSET_MS;
}

const DEFAULT_REBALANCE_MBPS = 100;

export interface RunningNode {
  nodeId: string;
  listenAddr: string;
  stop(): Promise<void>;
}

/** Tells every linked peer the members, revocations and layout this node knows. */
function gossipTo(
  self: { nodeId: string; addr: string },
  revocations: RevocationGuard,
  layout: LayoutKeeper,
  members: Record<string, Member>,
  children: Record<string, AnyActorRef | undefined>,
): void {
  const known = [self, ...Object.values(members).map((m) => ({ nodeId: m.nodeId, addr: m.addr }))];
  const revoked = revocations.all();
  const signedLayout = layout.signedBytes();
  const message = {
    t: "peers" as const,
    members: known,
    ...(revoked.length > 0 ? { revocations: revoked } : {}),
    ...(signedLayout ? { layout: signedLayout } : {}),
  };
  for (const child of Object.values(children)) {
    if (child && typeof child.id === "string" && child.id.startsWith("link:")) {
      child.send({ type: "link.send", message });
    }
  }
}

export async function startNode(opts: NodeOptions): Promise<RunningNode> {
  const { logger } = opts;
  const { host, port } = splitHostPort(opts.listenAddr);
  const listenAddr = joinHostPort(host, port);
  const identity = await loadNodeBundle(opts.bundleDir);
  await mkdir(opts.root, { recursive: true });
  const issuedId = readIssuedNodeId(opts.bundleDir);
  const rejoined = await rejoinIfReAdded(opts.root, issuedId, logger);
  const nodeId = loadOrCreateNodeId(opts.root, issuedId);
  const pool = new CryptoPool({ threads: opts.threads });
  const log = logger.child({ nodeId: nodeId.slice(0, 8) });

  // The disk state, opened by the store actor; assigned once it leaves `opening`.
  let db!: NodeDatabase;
  let catalog!: Catalog;
  let store!: ChunkStore;
  let reserve!: DiskReserve;
  // Peers keep talking while a node shuts down: events after the store closed are dropped quietly.
  const toStore = (event: StoreEvent) => {
    if (storeActor.getSnapshot().status === "active") storeActor.send(event);
  };
  const storeActor = createActor(
    storeMachine.provide({
      actors: {
        open: fromPromise(async () => {
          db = NodeDatabase.open(opts.root);
          catalog = new Catalog(db);
          reserve = DiskReserve.forDirectory(opts.root, {
            reserve: opts.diskReserve ?? DEFAULT_RESERVE,
            copyBytes: opts.chunkSize + CHUNK_OVERHEAD_BYTES,
            onChange: (full, figures) => {
              if (full)
                log.warn(figures, "disk below its free-space reserve: this node takes no new chunk copies");
              else
                log.info(
                  figures,
                  "disk above its free-space reserve again: this node takes new chunk copies",
                );
              toStore({ type: full ? "disk.full" : "disk.room" });
            },
          });
          await reserve.refresh();
          // The store's own verification copies, because the pool takes the buffer it hashes; hot paths
          // hash in the pool themselves and hand the store verified bytes.
          store = await ChunkStore.open(opts.root, {
            hash: async (bytes) => (await pool.hash(bytes.slice())).id,
            reserve,
          });
        }),
        job: jobChildren(() => jobs),
        close: fromPromise(async () => {
          await Promise.all([repair.idle(), gc.idle(), scrub.idle()]);
          // The mesh goes before the database, so no request reaches a closed one.
          actor.stop();
          rejections.stop();
          await pool.destroy();
          db?.close();
        }),
      },
      actions: {
        announce: (_, { what }) => {
          if (what === "member")
            log.info({}, "the newest layout names this node: it takes its share of copies");
          else if (what === "keeping")
            log.info(
              {},
              "the newest layout does not name this node: read-only, it keeps its copies until re-added",
            );
          else log.warn({}, "the newest layout does not name this node: handing its copies to their homes");
        },
      },
    }),
    { input: {} },
  );
  storeActor.start();
  const opened = await waitFor(storeActor, (s) => !s.matches("opening"));
  if (opened.status === "done") {
    await pool.destroy();
    throw opened.output?.error ?? new Error("the node's store could not be opened");
  }
  const catalogWrites = new CatalogGroupCommit(catalog);
  const memberTable = new MemberTable(db);
  // Asked on the first status snapshot, not at start: loading a backend in the threads right away
  // competes with the node's own start-up for the CPU.
  let blake3Backend: Promise<Blake3Backend> | undefined;
  const counters: ConnectionCounters = { bytesIn: 0, bytesOut: 0, framesRejected: {} };
  const maxFrameBytes = maxFrameBytesFor(opts.chunkSize);
  const hello: Hello = {
    t: "hello",
    protocol: PROTOCOL_VERSION,
    clusterId: identity.clusterId,
    role: "node",
    nodeId,
    listenAddr,
  };
  const timing: LinkTiming = {
    heartbeatMs: opts.heartbeatMs,
    suspectAfterMs: Math.min(opts.failureTimeoutMs, Math.max(opts.heartbeatMs * 2.5, 500)),
    failureTimeoutMs: opts.failureTimeoutMs,
    backoffBaseMs: 100,
    backoffMaxMs: Math.min(2_000, opts.failureTimeoutMs),
  };
  const revocations = await RevocationGuard.open(opts.root, identity.ca, log);
  const layout = await LayoutKeeper.open({
    root: opts.root,
    bundleDir: opts.bundleDir,
    caPem: identity.ca,
    clusterId: identity.clusterId,
    replication: opts.replication,
    knownNodeIds: () => [nodeId, ...Object.keys(actor.getSnapshot().context.members)],
    log,
  });
  const inLayout = () => layout.current().nodes.some((n) => n.nodeId === nodeId);
  const absence = await Absence.open({
    root: opts.root,
    nodeId,
    acks: new AcksSent(db),
    log,
    inLayout,
    rejoined,
    // The store stops anti-entropy, repair and garbage collection: they trust the catalog.
    onReadOnly: () => toStore({ type: "absence.readOnly" }),
  });
  if (absence.readOnly) toStore({ type: "absence.readOnly" });
  // Read-only or below its reserve, the node takes no new copies: peers hear it in its heartbeats.
  const takesNoCopies = () => reserve.full || absence.readOnly;
  const admit = (socket: TLSSocket) => revocations.admit(socket);
  const gossip = (members: Record<string, Member>, children: Record<string, AnyActorRef | undefined>) =>
    gossipTo({ nodeId, addr: listenAddr }, revocations, layout, members, children);
  const bindings = new CertificateBindings({ certName: certificateName(identity.cert), nodeId });
  const warnBinding = (msg: string, fields: Record<string, unknown>) => log.warn(fields, msg);
  const startedAt = Date.now();
  const activity: Activity = {
    uploads: 0,
    reads: 0,
    deletes: 0,
    chunksStored: 0,
    chunksServed: 0,
    chunkReads: 0,
  };

  let listening!: () => void;
  let listenFailed!: (err: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    listening = resolve;
    listenFailed = reject;
  });

  const status = new StatusPublisher({
    self: { clusterId: identity.clusterId, nodeId, listenAddr, startedAt },
    blake3Backend: () => {
      // A failed answer (the pool stopping) is not kept: the next status asks again.
      blake3Backend ??= pool.backend().catch((err: unknown) => {
        blake3Backend = undefined;
        throw err;
      });
      return blake3Backend;
    },
    members: () => Object.values(actor.getSnapshot().context.members),
    store,
    catalog,
    counters,
    activity,
    underReplicated: () => repair.underReplicated,
    repair: () => repair.progress(),
    reserve,
    gc: () => ({ reclaimableBytes: gc.reclaimableBytes, reclaimedBytes: gc.reclaimedBytes }),
    readOnly: () => absence.sentence(),
  });

  const mesh: MeshView = {
    selfId: nodeId,
    members: () => Object.values(actor.getSnapshot().context.members),
    connection: (peer) => {
      const snapshot = actor.getSnapshot();
      const member = snapshot.context.members[peer];
      if (!member || member.state === "down") return undefined;
      const link = snapshot.children[linkId(member.addr)] as LinkRef | undefined;
      const conn = link?.getSnapshot().context.session?.conn;
      return conn && !conn.isClosed ? conn : undefined;
    },
  };
  const clock = new HybridClock(wallClock, catalog.latestHlc());
  const peerClocks = new PeerClocks(wallClock);
  // A peer with room again may be a home that missed copies while full: repair now, not in 30 s.
  const fullPeers = new FullPeers(() => toStore({ type: "repair.now" }));
  const fullNodes = {
    isFull: (id: string) => (id === nodeId ? takesNoCopies() : fullPeers.isFull(id)),
    isReadOnly: (id: string) => (id === nodeId ? absence.readOnly : fullPeers.isReadOnly(id)),
    refused: (id: string) => {
      if (id !== nodeId) fullPeers.refused(id);
    },
  };
  const gcGraceMs = opts.gcGraceMs ?? DEFAULT_GC_GRACE_MS;
  const gateway = new Gateway({
    mesh,
    gcGraceMs,
    replication: opts.replication,
    writeQuorum: opts.writeQuorum,
    store,
    catalogWrites,
    pool,
    clock,
    peerClocks,
    activity,
    log,
    placement: layout,
    fullNodes,
    localPaths: [opts.root, store.root],
  });
  const tombstoneAcks = new TombstoneAcks();
  const antiEntropy = new AntiEntropy({
    mesh,
    catalog,
    clock,
    log,
    layoutNodes: () => layout.current().nodes.map((n) => n.nodeId),
    acks: tombstoneAcks,
    absence,
    ...(opts.tombstoneGraceMs === undefined ? {} : { tombstoneGraceMs: opts.tombstoneGraceMs }),
  });
  const gc = new GarbageCollector({
    catalog,
    store,
    fetchIndexObject: async (id) => (await gateway.readChunk(id)).bytes,
    graceMs: gcGraceMs,
    log,
    heldBack: () => absence.collectionHeldBack(),
  });
  const repair = new Repair({
    mesh,
    store,
    pool,
    placement: layout,
    log,
    skip: (id) => gc.isCondemned(id),
    onClean: () => layout.settled(),
    fullNodes,
    bytesPerSecond: (opts.rebalanceMBps ?? DEFAULT_REBALANCE_MBPS) * 1e6,
  });
  const scrub = new Scrub(store, pool, log);
  const rejections = new RejectionLog((fields, msg) => log.warn(fields, msg));
  const metrics = opts.metricsAddr === undefined ? undefined : new NodeMetrics(() => status.snapshot());
  const handleRequest = createRequestHandler({
    store,
    catalog,
    catalogWrites,
    pool,
    status,
    gateway,
    gc,
    clock,
    peerClocks,
    activity,
    revocations,
    layout,
    capacity: async () => opts.capacity ?? Math.max(1, (await store.stats()).diskFree),
    zone: opts.zone,
    name: certificateName(identity.cert),
    repairState: () => ({ misplaced: repair.misplaced, underReplicated: repair.underReplicated }),
    log,
    fullPeers,
    replyScope: { nodeId, localPaths: [opts.root, store.root, opts.bundleDir] },
    tombstoneAcks,
    absence,
  });

  const machine = nodeMachine.provide({
    actors: {
      listener: createListener({
        identity,
        host,
        port,
        hello,
        maxFrameBytes,
        counters,
        admit,
        onListening: () => listening(),
        onError: (err) => listenFailed(listenError(listenAddr, err)),
        rejected: (source, reason, detail) => rejections.note(source, reason, detail),
        log: warnBinding,
        bindings,
      }),
      inbound: createInboundServer(metrics ? metrics.countRequests(handleRequest) : handleRequest),
      peerLink: peerLinkMachine.provide({
        actors: {
          heartbeat: heartbeat(() =>
            absence.readOnly ? { full: true, readOnly: true } : reserve.full ? { full: true } : {},
          ),
          connect: fromPromise(({ input }: { input: { addr: string } }) =>
            dialNode(input.addr, {
              identity,
              hello,
              maxFrameBytes,
              counters,
              admit,
              bindings,
              log: warnBinding,
            }),
          ),
        },
      }),
    },
    actions: {
      rememberMember: (_, member: Member) => {
        memberTable.upsert({
          nodeId: member.nodeId,
          addr: member.addr,
          lastSeen: member.lastSeen ?? Date.now(),
        });
      },
      // A peer that (re)appears may have missed catalog writes and copies: catch up now rather than at
      // the next periodic round. Deferred so the member table already shows it alive when they look.
      peerArrived: (_, member: Member) => {
        setImmediate(() => {
          void antiEntropy.syncWith(member.nodeId);
          toStore({ type: "repair.now" });
        });
      },
      gossip: ({ context, self }) => gossip(context.members, self.getSnapshot().children),
      log: (_, p) => log[p.level](p.fields ?? {}, p.msg),
    },
  });

  const known = [
    ...opts.bootstrap.map((addr) => ({ addr })),
    ...memberTable.all().map((m) => ({ addr: m.addr, nodeId: m.nodeId })),
  ];
  const actor = createActor(machine, {
    input: { self: { nodeId, clusterId: identity.clusterId, listenAddr }, timing, known },
  });
  actor.subscribe({ error: (err) => log.error({ err }, "node actor failed") });
  // A new revocation or layout spreads at once, not at the next membership change; a new layout also
  // sends copies to their new homes now rather than at the next periodic scan.
  const gossipNow = () => {
    const snapshot = actor.getSnapshot();
    gossip(snapshot.context.members, snapshot.children);
  };
  revocations.onRevoked = gossipNow;
  layout.onChanged = () => {
    gossipNow();
    toStore({ type: "layout.changed", member: inLayout() });
    toStore({ type: "repair.now" });
  };
  toStore({ type: "layout.changed", member: inLayout() });
  const jobs: Record<StoreJobName, BackgroundJob> = {
    diskWatch: every(DISK_CHECK_INTERVAL_MS, () =>
      reserve
        .refresh()
        .catch((err: Error) => log.warn({ err: err.message }, "could not read the disk's free space")),
    ),
    status,
    antiEntropy: {
      start: () => antiEntropy.start(),
      stop: () => antiEntropy.stop(),
      run: () => antiEntropy.syncAll(),
    },
    repair: {
      start: () => repair.start(opts.repairIntervalMs),
      stop: () => repair.stop(),
      run: () => repair.trigger(),
    },
    scrub: { start: () => scrub.start(), stop: () => scrub.stop(), run: () => void scrub.run() },
    gc: {
      start: () => gc.start(opts.gcIntervalMs),
      stop: () => gc.stop(),
      run: () =>
        void gc.run().catch((err: Error) => log.warn({ err: err.message }, "garbage collection failed")),
    },
  };
  actor.start();

  let metricsServer: MetricsServer | undefined;
  try {
    await ready;
    if (metrics && opts.metricsAddr) metricsServer = await serveMetrics(opts.metricsAddr, metrics, log);
  } catch (err) {
    storeActor.send({ type: "store.close" });
    await toPromise(storeActor);
    throw err;
  }
  storeActor.send({ type: "store.serve" });
  log.info(
    {
      listenAddr,
      root: opts.root,
      peers: known.length,
      ...(metricsServer ? { metrics: metricsServer.addr } : {}),
    },
    "node listening",
  );

  return {
    nodeId,
    listenAddr,
    async stop() {
      await metricsServer?.close();
      storeActor.send({ type: "store.close" });
      const closed = await toPromise(storeActor);
      if (closed.error) log.warn({ err: closed.error.message }, "the node's store did not close cleanly");
    },
  };
}

/** A job that runs `tick` every `ms`. */
function every(ms: number, tick: () => unknown): BackgroundJob {
  let timer: NodeJS.Timeout | undefined;
  return {
    start() {
      timer = setInterval(tick, ms);
      timer.unref();
    },
    stop: () => clearInterval(timer),
    run: () => void tick(),
  };
}
