// The shape every file operation (upload, read, delete) shares as an XState actor: a fixed sequence of
// steps, each an invoked promise actor provided by the client, run in order. The first failure ends the
// operation in `failed` with the error; otherwise `done` holds the work every step added to.
// The state value names the step under way (`send`, `stream` ...), which is what progress shows.
import { type AnyActorLogic, assign, createActor, fromPromise, setup, toPromise } from "xstate";

type Work = Record<string, unknown>;
interface OperationContext {
  work: Work;
  error: unknown;
}

/** One step: reads the work so far, returns the fields it adds. */
export type Step<C> = (work: C) => Promise<Partial<C> | undefined>;

export function operationMachine(id: string, stepNames: readonly string[]) {
  const actors: Record<string, AnyActorLogic> = {};
  const states: Record<string, object> = {};
  stepNames.forEach((name, i) => {
    actors[name] = fromPromise<Partial<Work> | undefined, Work>(async () => {
      throw new Error(`${id}: step ${name} is not provided`);
    });
    states[name] = {
      invoke: {
        src: name,
        input: ({ context }: { context: OperationContext }) => context.work,
        onDone: {
          target: stepNames[i + 1] ?? "done",
          actions: assign(({ context, event }: { context: OperationContext; event: unknown }) => ({
            work: { ...context.work, ...((event as { output?: Work }).output ?? {}) },
          })),
        },
        onError: {
          target: "failed",
          actions: assign(({ event }: { event: unknown }) => ({
            error: (event as { error: unknown }).error,
          })),
        },
      },
    };
  });
  return setup({
    types: { context: {} as OperationContext, input: {} as Work, output: {} as OperationContext },
    actors,
  }).createMachine({
    id,
    context: ({ input }) => ({ work: input, error: undefined }),
    initial: stepNames[0] ?? "done",
    states: { ...states, done: { type: "final" }, failed: { type: "final" } },
    output: ({ context }) => context,
  });
}

export type OperationMachine = ReturnType<typeof operationMachine>;

/** Runs an operation with its steps provided; resolves to the final work or throws the step's error. */
export async function runOperation<C extends object>(
  machine: OperationMachine,
  steps: { [name: string]: Step<C> },
  input: C,
): Promise<C> {
  const actors = Object.fromEntries(
    Object.entries(steps).map(([name, step]) => [
      name,
      fromPromise<Partial<Work> | undefined, Work>(
        ({ input: work }) => step(work as C) as Promise<Partial<Work>>,
      ),
    ]),
  );
  const actor = createActor(machine.provide({ actors }), { input: input as Work });
  actor.start();
  const out = await toPromise(actor);
  if (out.error !== undefined) throw out.error;
  return out.work as C;
}
