import { describe, expect, it } from "vitest";
import { createActor } from "xstate";
import { operationMachine, runOperation } from "../../src/actors/file-operation.ts";
import { UPLOAD_STEPS, uploadMachine } from "../../src/actors/upload.ts";
import { DmfsError } from "../../src/errors.ts";

describe("file operation actors", () => {
  it("run their steps in order, each seeing what the earlier ones added", async () => {
    const seen: string[] = [];
    const result = await runOperation<{ a?: number; b?: number; c?: number }>(
      operationMachine("t", ["one", "two", "three"]),
      {
        one: async () => {
          seen.push("one");
          return { a: 1 };
        },
        two: async (w) => {
          seen.push("two");
          return { b: (w.a ?? 0) + 1 };
        },
        three: async (w) => {
          seen.push("three");
          return { c: (w.b ?? 0) + 1 };
        },
      },
      {},
    );
    expect(seen).toEqual(["one", "two", "three"]);
    expect(result).toEqual({ a: 1, b: 2, c: 3 });
  });

  it("stop at the first failing step and throw its error unchanged", async () => {
    const seen: string[] = [];
    const failure = new DmfsError("E_QUORUM", "write quorum not met");
    const steps = Object.fromEntries(
      UPLOAD_STEPS.map((name) => [
        name,
        async () => {
          seen.push(name);
          if (name === "send") throw failure;
          return {};
        },
      ]),
    );
    await expect(runOperation(uploadMachine, steps, {})).rejects.toBe(failure);
    expect(seen).toEqual(["begin", "send"]);
  });

  it("show the step under way as the actor's state", async () => {
    let release!: () => void;
    const actor = createActor(uploadMachine, {
      input: {
        steps: {
          begin: async () => ({}),
          send: () => new Promise((r) => (release = () => r({}))),
          manifest: async () => ({}),
          commit: async () => ({}),
        },
        work: {},
      },
    }).start();
    await new Promise<void>((resolve) => {
      const sub = actor.subscribe((s) => {
        if ((s.value as string) === "send") {
          sub.unsubscribe();
          resolve();
        }
      });
    });
    release();
    await new Promise<void>((resolve) => actor.subscribe((s) => s.status === "done" && resolve()));
    expect(actor.getSnapshot().value).toBe("done");
  });
});
