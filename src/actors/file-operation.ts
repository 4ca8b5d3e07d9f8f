// The shape every file operation (upload, read, delete) shares as an XState actor: a fixed sequence of
// steps, each an invoked promise actor, run in order. The first failure ends the operation in `failed`
// with the error; otherwise `done` holds the work every step added to. The state value names the step
// under way (`send`, `stream` ...). The steps' effects come with the input, so one machine serves every
// operation without re-providing it each time (small-file uploads run thousands of them).
import { type AnyActorLogic, assign, createActor, fromPromise, setup, toPromise } from "xstate";

type Work = Record<string, unknown>;
/** One step: reads the work so far, returns the fields it adds. */
export type Step<C> = (work: C) => Promise<Partial<C> | undefined>;
type Steps = Record<string, Step<Work>>;

interface OperationContext {
  steps: Steps;
  work: Work;
  error: unknown;
}

interface StepInput {
  step: Step<Work>;
  work: Work;
}

export function operationMachine(id: string, stepNames: readonly string[]) {
  const actors: Record<string, AnyActorLogic> = {};
  const states: Record<string, object> = {};
  stepNames.forEach((name, i) => {
    actors[name] = fromPromise<Partial<Work> | undefined, StepInput>(({ input }) => input.step(input.work));
    states[name] = {
      invoke: {
        src: name,
        input: ({ context }: { context: OperationContext }): StepInput => {
          const step = context.steps[name];
          if (!step) throw new Error(`${id}: no step ${name}`);
          return { step, work: context.work };
        },
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
    types: {
      context: {} as OperationContext,
      input: {} as { steps: Steps; work: Work },
      output: {} as OperationContext,
    },
    actors,
  }).createMachine({
    id,
    context: ({ input }) => ({ steps: input.steps, work: input.work, error: undefined }),
    initial: stepNames[0] ?? "done",
    states: { ...states, done: { type: "final" }, failed: { type: "final" } },
    output: ({ context }) => context,
  });
}

export type OperationMachine = ReturnType<typeof operationMachine>;

/** Runs an operation with its steps; resolves to the final work or throws the failed step's error. */
export async function runOperation<C extends object>(
  machine: OperationMachine,
  steps: { [name: string]: Step<C> },
  input: C,
): Promise<C> {
  const actor = createActor(machine, { input: { steps: steps as unknown as Steps, work: input as Work } });
  actor.start();
  const out = await toPromise(actor);
  if (out.error !== undefined) throw out.error;
  return out.work as C;
}
