/**
 * Test wiring for the engine: memory storage, the real session registry, and a scripted
 * in-process operator that answers frames the way a real client and its sub-agent would.
 */
import { Cause, Effect, Fiber, FiberId, Layer, Option, Queue, Ref, Stream } from "effect"
import type { AgentDef, FlowNode } from "../../src/protocol/blueprint.js"
import type { PendingReply, ServerFrame, SpawnFrame } from "../../src/protocol/frames.js"
import { EngineLive } from "../../src/layers/Engine.js"
import { MemoryStorage } from "../../src/layers/MemoryStorage.js"
import { EngineConfig, type EngineConfigInput } from "../../src/services/EngineConfig.js"
import type { RunEvent } from "../../src/services/repos/EventRepo.js"
import { Runs } from "../../src/services/Runs.js"
import { SessionDirectory } from "../../src/services/SessionDirectory.js"
import { Sessions } from "../../src/services/Sessions.js"
import { Worker } from "../../src/services/Worker.js"

export const testLayer = (config: EngineConfigInput = {}) =>
  EngineLive.pipe(
    Layer.provideMerge(SessionDirectory.fromSessions),
    Layer.provideMerge(Layer.orDie(Sessions.layer())),
    Layer.provideMerge(MemoryStorage),
    Layer.provideMerge(EngineConfig.layer({ publicUrl: "http://engine.test:7777", ...config }))
  )

export const step = (ref: string, at: string, out: string): FlowNode => ({
  kind: "step",
  ref,
  in: { op: "path", at },
  out
})

export const seq = (...children: Array<FlowNode>): FlowNode => ({ kind: "seq", children })

export const blueprint = (agents: ReadonlyArray<AgentDef>, flow: FlowNode, extra: Record<string, unknown> = {}) => ({
  id: "test",
  agents,
  flow,
  ...extra
})

/** Events of a run until `pred` holds (inclusive). */
export const eventsUntil = (runId: string, pred: (e: RunEvent) => boolean) =>
  Effect.gen(function*() {
    const runs = yield* Runs
    const stream = yield* runs.events(runId)
    return [...(yield* Stream.runCollect(stream.pipe(Stream.takeUntil(pred))))]
  })

export type Handler = (frame: ServerFrame) => Effect.Effect<Option.Option<Omit<PendingReply, "req_id">>, unknown, Worker>

/** The sub-agent's side of a spawn: fetch the prompt by handle, submit `body`. */
export const subAgent = (frame: SpawnFrame, body: (prompt: unknown) => string) =>
  Effect.gen(function*() {
    const worker = yield* Worker
    const handle = frame.worker_handle ?? frame.capability_token
    const prompt = yield* worker.prompt(handle, frame.task_id)
    yield* worker.submit(handle, body(prompt.prompt))
  })

export const ack = (value: unknown = null, ok = true) =>
  Effect.succeed(Option.some({ type: "spawn_ack", value, ok } as Omit<PendingReply, "req_id">))

/** The error a failed handler reports, naming the frame it was handling. */
const handlerFailure = (frame: ServerFrame, cause: Cause.Cause<unknown>): Error => {
  const original = Cause.squash(cause)
  const what = `${frame.type}${"req_id" in frame ? ` ${frame.req_id}` : ""}`
  const message = original instanceof Error ? original.message : String(original)
  const error = new Error(`the scripted operator failed while handling ${what}: ${message}`, { cause: original })
  if (original instanceof Error && original.stack !== undefined) error.stack = `${error.message}\n${original.stack}`
  return error
}

/**
 * A session logged in and attached to an in-process operator run by `handler`.
 *
 * A handler that fails (a failed `expect` inside it, or an unexpected error) fails the test
 * at once with that message: the test's fiber is interrupted and the first failure is raised
 * as it closes its scope, instead of the test waiting for a reply that never comes.
 */
export const startOperator = (handler: Handler) =>
  Effect.gen(function*() {
    const sessions = yield* Sessions
    const { sid } = yield* sessions.login("scripted")
    const live = Option.getOrThrow(yield* sessions.get(sid))
    const queue = yield* Effect.orDie(live.session.replaceOutbound)
    const frames = yield* Ref.make<ReadonlyArray<ServerFrame>>([])
    const failure = yield* Ref.make(Option.none<Error>())
    const testFiber = Option.getOrThrow(Fiber.getCurrentFiber())
    // runs when the test's scope closes, whether the test ended by itself or was interrupted below
    yield* Effect.addFinalizer(() => Effect.flatMap(Ref.get(failure), Option.match({ onNone: () => Effect.void, onSome: Effect.die })))
    const fail = (frame: ServerFrame, cause: Cause.Cause<unknown>) =>
      Cause.isInterruptedOnly(cause)
        ? Effect.void // the operator was stopped, or the test is ending
        : Ref.modify(failure, (first) => [Option.isNone(first), Option.orElse(first, () => Option.some(handlerFailure(frame, cause)))] as const)
          .pipe(Effect.flatMap((isFirst) =>
            isFirst ? Effect.sync(() => testFiber.unsafeInterruptAsFork(FiberId.none)) : Effect.void
          ))
    const serve = (frame: ServerFrame) =>
      handler(frame).pipe(
        Effect.flatMap(Option.match({
          onNone: () => Effect.void,
          onSome: (reply) =>
            "req_id" in frame
              ? live.session.resolve({ ...reply, req_id: frame.req_id } as PendingReply)
              : Effect.void
        })),
        Effect.catchAllCause((cause) => fail(frame, cause))
      )
    // each frame on its own fiber: a spawn stays open while its worker asks a nested question
    const fiber = yield* Queue.take(queue).pipe(
      Effect.tap((frame) => Ref.update(frames, (fs) => [...fs, frame])),
      Effect.flatMap((frame) => Effect.fork(serve(frame))),
      Effect.forever,
      Effect.forkScoped
    )
    return { sid, session: live.session, frames: Ref.get(frames), stop: Fiber.interrupt(fiber) }
  })

/** A handler for the usual case: hooks accepted, spawns done by a sub-agent submitting `result(prompt)`. */
export const defaultHandler = (
  result: (prompt: unknown, frame: SpawnFrame) => string,
  answer: (question: unknown) => unknown = () => "ok"
): Handler =>
(frame) => {
  switch (frame.type) {
    case "hook_before":
      return Effect.succeed(Option.some({ type: "hook_ack", ok: true } as Omit<PendingReply, "req_id">))
    case "spawn":
      return subAgent(frame, (p) => result(p, frame)).pipe(Effect.zipRight(ack()))
    case "ask":
      return Effect.succeed(Option.some({ type: "answer", value: answer(frame.question) } as Omit<PendingReply, "req_id">))
    default:
      return Effect.succeedNone
  }
}
