import { Context, Effect, Layer } from "effect"
import type { PendingReply } from "../../protocol/frames.js"
import type { StepId } from "../../protocol/ids.js"
import { type OperatorCallError, UnexpectedReply } from "../OperatorErrors.js"
import { OperatorSession, type OperatorSessionShape } from "../OperatorSession.js"
import { requestOptions } from "./shared.js"

export interface AskInput {
  /** The step id (`ST-…`) the question is about; sent as `task_id`. */
  readonly taskId: StepId
  readonly runId?: string
  readonly question: unknown
  /** Reuse a known req_id (restart/resume); minted when absent. */
  readonly reqId?: string
}

type SeniorBridgeShape = Context.Tag.Service<typeof SeniorBridge>

/**
 * `ask` over `session`: `answer` → its value, any other reply → UnexpectedReply. A class,
 * so that thousands of idle sessions share one `ask` (docs/performance.md, P3).
 */
class Bridge implements SeniorBridgeShape {
  constructor(private readonly session: OperatorSessionShape) {}
  get sid() {
    return this.session.sid
  }
  ask(input: AskInput): Effect.Effect<unknown, OperatorCallError> {
    return this.session.request({ type: "ask", task_id: input.taskId, question: input.question }, requestOptions(input))
      .pipe(Effect.flatMap(answerValue))
  }
}

const answerValue = (reply: PendingReply): Effect.Effect<unknown, UnexpectedReply> =>
  reply.type === "answer"
    ? Effect.succeed(reply.value)
    : Effect.fail(
      new UnexpectedReply({
        reqId: reply.req_id,
        expected: "answer",
        got: reply.type,
        message: `expected answer to ask, got ${reply.type}`
      })
    )

export const makeSeniorBridge = (session: OperatorSessionShape): SeniorBridgeShape => new Bridge(session)

/** Judgment role of an operator session: `ask` → `answer` (docs/operators.md, What a session does). */
export class SeniorBridge extends Context.Tag("swarmgate/SeniorBridge")<SeniorBridge, {
  readonly sid: string
  readonly ask: (input: AskInput) => Effect.Effect<unknown, OperatorCallError>
}>() {
  /** `ask` over the session in context. */
  static readonly fromSession: Layer.Layer<SeniorBridge, never, OperatorSession> = Layer.effect(
    SeniorBridge,
    Effect.map(OperatorSession, makeSeniorBridge)
  )
}
