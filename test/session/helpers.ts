import { expect } from "@effect/vitest"
import { Chunk, Effect, HashMap, Logger, Queue } from "effect"
import type { PendingReply, RequestFrame, ServerFrame } from "../../src/protocol/frames.js"
import type { OperatorSessionShape, RequestBody } from "../../src/services/OperatorSession.js"
import { StepId } from "../../src/protocol/ids.js"

export const askBody = (question: unknown, taskId = "ST-0000000000000001"): RequestBody => ({
  type: "ask",
  task_id: StepId.make(taskId),
  question
})

export const hookBody = (taskId = "ST-0000000000000001"): RequestBody => ({
  type: "hook_before",
  task_id: StepId.make(taskId),
  agent: "writer",
  attempt: 1
})

export const spawnBody = (taskId = "ST-0000000000000001"): RequestBody => ({
  type: "spawn",
  task_id: StepId.make(taskId),
  agent: "writer",
  attempt: 1,
  capability_token: "cap.token",
  directive: "do it"
})

/** Let forked callers run until the session owes `n` replies (bounded, so a bug fails fast). */
export const waitForPending = (session: OperatorSessionShape, n: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 1_000; i++) {
      if ((yield* session.pending).length >= n) return
      yield* Effect.yieldNow()
    }
    return yield* Effect.dieMessage(`session never had ${n} pending requests`)
  })

export const drain = (queue: Queue.Dequeue<ServerFrame>) =>
  Effect.map(Queue.takeAll(queue), Chunk.toReadonlyArray)

export const isRequest = (frame: ServerFrame): frame is RequestFrame =>
  frame.type === "ask" || frame.type === "hook_before" || frame.type === "spawn"

/** Take the next frame and answer it with `reply(frame)`. */
export const answerNext = (
  session: OperatorSessionShape,
  queue: Queue.Dequeue<ServerFrame>,
  reply: (frame: RequestFrame) => PendingReply
) =>
  Effect.gen(function*() {
    const frame = yield* Queue.take(queue)
    if (!isRequest(frame)) return yield* Effect.dieMessage(`expected a request frame, got ${frame.type}`)
    expect(yield* session.resolve(reply(frame))).toBe("resolved")
    return frame
  })

export interface CapturedLog {
  readonly level: string
  readonly message: string
  readonly annotations: Record<string, unknown>
}

/** A logger layer that records entries (it.effect removes the default logger). */
export const captureLogs = () => {
  const logs: Array<CapturedLog> = []
  const layer = Logger.add(Logger.make(({ annotations, logLevel, message }) => {
    logs.push({
      level: logLevel.label,
      message: Array.isArray(message) ? message.map(String).join(" ") : String(message),
      annotations: Object.fromEntries(HashMap.toEntries(annotations))
    })
  }))
  return { logs, layer }
}

