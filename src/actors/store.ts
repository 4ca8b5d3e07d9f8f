// The store actor: owns the node's disk state for the node's whole life. It opens it (database
// migration, chunk store recovery), waits in standby until the mesh is up, then serves with the
// background jobs - disk watch, status, anti-entropy, repair and rebalance, scrub, garbage collection -
// as its children. While serving it tracks whether the disk is below its reserve (full) and the node's
// role: member, leaving while repair hands its copies to their homes (the newest layout no longer names
// this node), or read-only (it missed a tombstone purge while away, node/absence.ts), where the jobs
// that share or act on the catalog - anti-entropy, repair, garbage collection - do not run.
// Closing stops the children, lets passes under way finish, then closes the disk state, so no pass
// ever runs against a closed database. The node process provides how each step is done.
// Chunk reads and writes do not pass through here as events: they are the hot path, and the chunk store
// itself refuses copies below the reserve; the actor decides when the store and its jobs run.
import { assign, fromCallback, fromPromise, type NonReducibleUnknown, not, sendTo, setup } from "xstate";

/** The jobs a serving store runs in every role, in the order they start. */
const LOCAL_JOBS = ["diskWatch", "status", "scrub"] as const;
/** The jobs that trust the node's catalog: not run while it is read-only. */
const CATALOG_JOBS = ["antiEntropy", "repair", "gc"] as const;
/** The background jobs a serving store runs, in the order they start. */
export const STORE_JOBS = [...LOCAL_JOBS, ...CATALOG_JOBS] as const;
export type StoreJobName = (typeof STORE_JOBS)[number];

export type StoreEvent =
  /** The mesh is up: start serving and the background jobs. */
  | { type: "store.serve" }
  /** Stop the jobs, finish passes under way, close the disk state. */
  | { type: "store.close" }
  /** The disk crossed below its free-space reserve, or back above it. */
  | { type: "disk.full" }
  | { type: "disk.room" }
  /** A newer layout arrived; `member` says whether it names this node. */
  | { type: "layout.changed"; member: boolean }
  /** The node missed a tombstone purge while away: read-only until it is rejoined (a restart). */
  | { type: "absence.readOnly" }
  /** Something changed that repair should look at now rather than at its next periodic scan. */
  | { type: "repair.now" };

/** What a job child receives: run a pass now. */
export interface JobEvent {
  type: "job.run";
}

export interface JobInput {
  name: StoreJobName;
  /** Run a first pass right away (repair asked for before the store served). */
  runNow: boolean;
}

/** A background job as the node process builds it. */
export interface BackgroundJob {
  /** Starts its periodic timer. */
  start(): void;
  /** Stops the timer; a pass under way winds down on its own. */
  stop(): void;
  /** Runs a pass now (or one more right after the pass under way). */
  run?(): void;
}

/** The `job` child for a set of jobs: starts it, runs a pass on `job.run`, stops it when the store leaves serving. */
export function jobChildren(jobs: () => Record<StoreJobName, BackgroundJob>) {
  return fromCallback<JobEvent, JobInput>(({ input, receive }) => {
    const job = jobs()[input.name];
    job.start();
    if (input.runNow) job.run?.();
    receive(() => job.run?.());
    return () => job.stop();
  });
}

export interface StoreInput {
  /** Whether the disk is below its reserve when the store opens. */
  full?: boolean;
  /** Whether the layout names this node when the store opens. */
  member?: boolean;
  /** Whether the node is read-only when the store opens. */
  readOnly?: boolean;
}

interface StoreContext {
  full: boolean;
  member: boolean;
  readOnly: boolean;
  closeRequested: boolean;
  /** Repair was asked for before the store served: its first pass runs as soon as it starts. */
  repairWanted: boolean;
  error: Error | undefined;
}

export const storeMachine = setup({
  types: {
    context: {} as StoreContext,
    events: {} as StoreEvent,
    input: {} as StoreInput,
    output: {} as { error?: Error },
  },
  actors: {
    // Provided: opens the database (migrating it), the catalog and the chunk store (recovering it).
    open: fromPromise<void, NonReducibleUnknown>(async () => {
      throw new Error("store: open is not provided");
    }),
    // Provided: one background job; starts its timer, runs a pass on `job.run`, stops on cleanup.
    job: fromCallback<JobEvent, JobInput>(() => {
      throw new Error("store: job is not provided");
    }),
    // Provided: waits for passes under way, then closes the disk state.
    close: fromPromise<void, NonReducibleUnknown>(async () => {
      throw new Error("store: close is not provided");
    }),
  },
  actions: {
    // Provided: say that the newest layout no longer names this node, or names it again, or no longer
    // names it while it is read-only (it keeps its copies). (The disk reserve says when it fills, with
    // its figures; the absence verdict says why the node is read-only.)
    announce: (_, _p: { what: "leaving" | "member" | "keeping" }) => {},
  },
  guards: {
    full: ({ context }) => context.full,
    member: ({ context }) => context.member,
    readOnly: ({ context }) => context.readOnly,
    closeRequested: ({ context }) => context.closeRequested,
  },
}).createMachine({
  id: "store",
  context: ({ input }) => ({
    full: input.full ?? false,
    member: input.member ?? true,
    readOnly: input.readOnly ?? false,
    closeRequested: false,
    repairWanted: false,
    error: undefined,
  }),
  initial: "opening",
  // Kept in every state, so the serving regions start from the truth.
  on: {
    "disk.full": { actions: assign({ full: true }) },
    "disk.room": { actions: assign({ full: false }) },
    "layout.changed": { actions: assign({ member: ({ event }) => event.member }) },
    "absence.readOnly": { actions: assign({ readOnly: true }) },
    "repair.now": { actions: assign({ repairWanted: true }) },
  },
  states: {
    opening: {
      invoke: {
        src: "open",
        onDone: [{ guard: "closeRequested", target: "closing" }, { target: "standby" }],
        onError: {
          target: "failed",
          actions: assign({ error: ({ event }) => toError(event.error) }),
        },
      },
      // Closing must wait for the open to finish, or the database it opens would never be closed.
      on: { "store.close": { actions: assign({ closeRequested: true }) } },
    },
    standby: {
      on: { "store.serve": "serving", "store.close": "closing" },
    },
    serving: {
      type: "parallel",
      invoke: jobInvocations(LOCAL_JOBS),
      on: {
        "store.close": "#store.closing",
        // Repair does not run while read-only: nothing to ask.
        "repair.now": {
          guard: not("readOnly"),
          actions: sendTo("repair", { type: "job.run" } satisfies JobEvent),
        },
      },
      states: {
        disk: {
          initial: "checking",
          states: {
            checking: { always: [{ guard: "full", target: "full" }, { target: "ready" }] },
            ready: {
              on: {
                "disk.full": { target: "full", actions: assign({ full: true }) },
              },
            },
            full: {
              on: {
                // A peer may have missed copies while this disk was full; its homes are repaired now.
                "disk.room": [
                  { guard: "readOnly", target: "ready", actions: assign({ full: false }) },
                  {
                    target: "ready",
                    actions: [
                      assign({ full: false }),
                      sendTo("repair", { type: "job.run" } satisfies JobEvent),
                    ],
                  },
                ],
              },
            },
          },
        },
        role: {
          initial: "checking",
          states: {
            checking: { always: [{ guard: "readOnly", target: "readOnly" }, { target: "writable" }] },
            // The catalog is the cluster's (or being judged so): the jobs that share and act on it run.
            writable: {
              invoke: jobInvocations(CATALOG_JOBS),
              initial: "checking",
              on: { "absence.readOnly": { target: "readOnly", actions: assign({ readOnly: true }) } },
              states: {
                checking: { always: [{ guard: "member", target: "member" }, { target: "leaving" }] },
                member: {
                  on: {
                    "layout.changed": {
                      guard: ({ event }) => !event.member,
                      target: "leaving",
                      actions: [
                        assign({ member: false }),
                        { type: "announce", params: { what: "leaving" } },
                        sendTo("repair", { type: "job.run" } satisfies JobEvent),
                      ],
                    },
                  },
                },
                leaving: {
                  on: {
                    "layout.changed": {
                      guard: ({ event }) => event.member,
                      target: "member",
                      actions: [assign({ member: true }), { type: "announce", params: { what: "member" } }],
                    },
                  },
                },
              },
            },
            // Missed a purge while away: no anti-entropy, repair or collection; it keeps its copies and
            // serves chunk reads until rejoined, which restarts the node. A layout without it changes
            // nothing here but is said once.
            readOnly: {
              on: {
                "layout.changed": [
                  {
                    guard: ({ context, event }) => context.member && !event.member,
                    actions: [assign({ member: false }), { type: "announce", params: { what: "keeping" } }],
                  },
                  { actions: assign({ member: ({ event }) => event.member }) },
                ],
              },
            },
          },
        },
      },
    },
    closing: {
      invoke: {
        src: "close",
        onDone: "closed",
        onError: {
          target: "closed",
          actions: assign({ error: ({ event }) => toError(event.error) }),
        },
      },
    },
    closed: { type: "final" },
    failed: { type: "final" },
  },
  output: ({ context }) => (context.error ? { error: context.error } : {}),
});

/** One `job` child per name, each told whether repair was asked for before it started. */
function jobInvocations(names: readonly StoreJobName[]) {
  return names.map((name) => ({
    id: name,
    src: "job" as const,
    input: ({ context }: { context: StoreContext }) => ({
      name,
      runNow: name === "repair" && context.repairWanted,
    }),
  }));
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
