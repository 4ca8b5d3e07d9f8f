// The store actor's lifecycle with fake jobs: what runs in which state, and in which order it closes.
import { describe, expect, it } from "vitest";
import { createActor, fromPromise, toPromise, waitFor } from "xstate";
import {
  type BackgroundJob,
  jobChildren,
  STORE_JOBS,
  type StoreJobName,
  storeMachine,
} from "../../src/actors/store.ts";

interface Harness {
  events: string[];
  actor: ReturnType<typeof createActor<typeof storeMachine>>;
  finishOpen: () => void;
  failOpen: (err: Error) => void;
}

function harness(opts: { input?: { full?: boolean; member?: boolean; readOnly?: boolean } } = {}): Harness {
  const events: string[] = [];
  let finishOpen!: () => void;
  let failOpen!: (err: Error) => void;
  const opening = new Promise<void>((resolve, reject) => {
    finishOpen = resolve;
    failOpen = reject;
  });
  const jobs = Object.fromEntries(
    STORE_JOBS.map((name): [StoreJobName, BackgroundJob] => [
      name,
      {
        start: () => events.push(`start ${name}`),
        stop: () => events.push(`stop ${name}`),
        run: () => events.push(`run ${name}`),
      },
    ]),
  ) as Record<StoreJobName, BackgroundJob>;
  const machine = storeMachine.provide({
    actors: {
      open: fromPromise(async () => {
        events.push("open");
        await opening;
      }),
      job: jobChildren(() => jobs),
      close: fromPromise(async () => {
        events.push("close");
      }),
    },
    actions: { announce: (_, { what }) => events.push(`announce ${what}`) },
  });
  const actor = createActor(machine, { input: opts.input ?? {} });
  actor.start();
  return { events, actor, finishOpen, failOpen };
}

async function serving(h: Harness) {
  h.finishOpen();
  await waitFor(h.actor, (s) => s.matches("standby"));
  h.actor.send({ type: "store.serve" });
  return h.actor.getSnapshot();
}

describe("store actor", () => {
  it("opens, waits in standby, serves with every job, and closes after stopping them", async () => {
    const h = harness();
    expect(h.actor.getSnapshot().matches("opening")).toBe(true);
    h.finishOpen();
    await waitFor(h.actor, (s) => s.matches("standby"));
    expect(h.events).toEqual(["open"]); // no job runs before the mesh is up
    h.actor.send({ type: "store.serve" });
    expect(h.actor.getSnapshot().matches({ serving: { disk: "ready", role: { writable: "member" } } })).toBe(
      true,
    );
    expect(h.events.slice(1)).toEqual(STORE_JOBS.map((name) => `start ${name}`));
    h.events.length = 0;
    h.actor.send({ type: "store.close" });
    const output = await toPromise(h.actor);
    expect(output).toEqual({});
    expect(h.events.at(-1)).toBe("close");
    expect(h.events.slice(0, -1).sort()).toEqual(STORE_JOBS.map((name) => `stop ${name}`).sort());
  });

  it("ends failed with the open's error, and starts no job", async () => {
    const h = harness();
    h.failOpen(new Error("database is corrupt"));
    const output = await toPromise(h.actor);
    expect(h.actor.getSnapshot().matches("failed")).toBe(true);
    expect(output.error?.message).toBe("database is corrupt");
    expect(h.events).toEqual(["open"]);
  });

  it("closes asked during opening only once the open finished", async () => {
    const h = harness();
    h.actor.send({ type: "store.close" });
    expect(h.events).toEqual(["open"]);
    h.finishOpen();
    await toPromise(h.actor);
    expect(h.events).toEqual(["open", "close"]);
  });

  it("tracks the disk reserve and asks repair to run when room comes back", async () => {
    const h = harness();
    await serving(h);
    h.actor.send({ type: "disk.full" });
    expect(h.actor.getSnapshot().matches({ serving: { disk: "full" } })).toBe(true);
    h.events.length = 0;
    h.actor.send({ type: "disk.room" });
    expect(h.actor.getSnapshot().matches({ serving: { disk: "ready" } })).toBe(true);
    expect(h.events).toEqual(["run repair"]);
  });

  it("serves full when the disk filled before it served", async () => {
    const h = harness();
    h.actor.send({ type: "disk.full" });
    const snapshot = await serving(h);
    expect(snapshot.matches({ serving: { disk: "full" } })).toBe(true);
    expect(harness({ input: { full: true } }).actor.getSnapshot().context.full).toBe(true);
  });

  it("leaves when the layout drops this node, and says so once", async () => {
    const h = harness();
    await serving(h);
    h.events.length = 0;
    h.actor.send({ type: "layout.changed", member: false });
    h.actor.send({ type: "layout.changed", member: false });
    expect(h.actor.getSnapshot().matches({ serving: { role: { writable: "leaving" } } })).toBe(true);
    expect(h.events).toEqual(["announce leaving", "run repair"]);
    h.actor.send({ type: "layout.changed", member: true });
    expect(h.actor.getSnapshot().matches({ serving: { role: { writable: "member" } } })).toBe(true);
    expect(h.events.at(-1)).toBe("announce member");
  });

  it("runs repair at once when it was asked for before the store served", async () => {
    const h = harness();
    h.actor.send({ type: "repair.now" });
    await serving(h);
    expect(h.events).toContain("run repair");
    const quiet = harness();
    await serving(quiet);
    expect(quiet.events).not.toContain("run repair");
    quiet.actor.send({ type: "repair.now" });
    expect(quiet.events.at(-1)).toBe("run repair");
  });

  it("turns read-only on the absence verdict: anti-entropy, repair and collection stop, the local jobs go on", async () => {
    const h = harness();
    await serving(h);
    h.events.length = 0;
    h.actor.send({ type: "absence.readOnly" });
    expect(h.actor.getSnapshot().matches({ serving: { disk: "ready", role: "readOnly" } })).toBe(true);
    expect(h.events.sort()).toEqual(["stop antiEntropy", "stop gc", "stop repair"]);
    // Nothing asks repair to run any more, whatever happens; the disk still tracks its reserve.
    h.events.length = 0;
    h.actor.send({ type: "repair.now" });
    h.actor.send({ type: "disk.full" });
    h.actor.send({ type: "disk.room" });
    h.actor.send({ type: "absence.readOnly" });
    expect(h.events).toEqual([]);
    expect(h.actor.getSnapshot().matches({ serving: { disk: "ready", role: "readOnly" } })).toBe(true);
    h.actor.send({ type: "store.close" });
    await toPromise(h.actor);
    expect(h.events.at(-1)).toBe("close");
    expect(h.events.slice(0, -1).sort()).toEqual(["stop diskWatch", "stop scrub", "stop status"]);
  });

  it("serves read-only from the start when the verdict came before serving, starting no catalog job", async () => {
    for (const h of [harness({ input: { readOnly: true } }), harness()]) {
      h.actor.send({ type: "repair.now" });
      h.actor.send({ type: "absence.readOnly" });
      const snapshot = await serving(h);
      expect(snapshot.matches({ serving: { role: "readOnly" } })).toBe(true);
      expect(h.events.slice(1)).toEqual(["start diskWatch", "start status", "start scrub"]);
    }
  });

  it("says once that a layout without it leaves a read-only node its copies, and hands none off", async () => {
    const h = harness({ input: { readOnly: true } });
    await serving(h);
    h.events.length = 0;
    h.actor.send({ type: "layout.changed", member: false });
    h.actor.send({ type: "layout.changed", member: false });
    expect(h.events).toEqual(["announce keeping"]);
    expect(h.actor.getSnapshot().matches({ serving: { role: "readOnly" } })).toBe(true);
    expect(h.actor.getSnapshot().context.member).toBe(false);
  });

  it("a leaving node that turns read-only stops handing its copies off", async () => {
    const h = harness({ input: { member: false } });
    await serving(h);
    expect(h.actor.getSnapshot().matches({ serving: { role: { writable: "leaving" } } })).toBe(true);
    h.events.length = 0;
    h.actor.send({ type: "absence.readOnly" });
    expect(h.events.sort()).toEqual(["stop antiEntropy", "stop gc", "stop repair"]);
    h.actor.send({ type: "layout.changed", member: true });
    expect(h.actor.getSnapshot().matches({ serving: { role: "readOnly" } })).toBe(true);
    expect(h.events).not.toContain("announce member");
  });

  it("ignores serve and repair requests once closed", async () => {
    const h = harness();
    await serving(h);
    h.actor.send({ type: "store.close" });
    await toPromise(h.actor);
    const count = h.events.length;
    h.actor.send({ type: "store.serve" });
    h.actor.send({ type: "repair.now" });
    expect(h.events.length).toBe(count);
  });
});
