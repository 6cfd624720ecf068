/**
 * Tasks and runs (http-api.md, tasks and runs). One fiber per run, forked in this service's
 * scope (not the caller's), so a run outlives the request that launched it and stops with
 * the server. Cancel withdraws the run's pending operator requests, then interrupts the
 * fiber (finalizers kill subprocesses). Seats are taken at launch (`operator_sid`) or one by
 * one (`acquire`); a take-over withdraws the seat's pending requests from the previous
 * holder so the step sends them again to the new one.
 */
import {
  Cause,
  Clock,
  Context,
  Deferred,
  Effect,
  Either,
  Exit,
  Fiber,
  Layer,
  Option,
  Ref,
  type Scope,
  type Stream
} from "effect"
import type { Blueprint } from "../protocol/blueprint.js"
import { isRunId, isSid, isTaskId, newRunId, newTaskId, type RunId, type Sid, type TaskId } from "../protocol/ids.js"
import type { RunSummary, RunView, TaskSummary, TaskView } from "../protocol/views.js"
import { RUN_CANCELLED, SEAT_TAKEN_OVER } from "./agents/seated.js"
import { Dispatcher, type RunDispatch } from "./Dispatcher.js"
import {
  BlueprintNotFound,
  InvalidBlueprint,
  NotInterrupted,
  RunAlreadyFinished,
  RunNotFound,
  SeatNotFound,
  TaskNotFound,
  UnknownSession
} from "./EngineErrors.js"
import { evaluateFlow, type FlowError } from "./flow/evaluate.js"
import { formatProblems, validateBlueprint } from "./flow/validate.js"
import { BlueprintRepo } from "./repos/BlueprintRepo.js"
import type { RunEvent } from "./repos/EventRepo.js"
import { isRunEnded, type RunError, type RunRecord, RunRepo, type RunStatus } from "./repos/RunRepo.js"
import { isStepFinished, stepView } from "../protocol/records.js"
import { type TaskRecord, TaskRepo } from "./repos/TaskRepo.js"
import { RunEvents } from "./RunEvents.js"
import { Seats, type TakeResult } from "./Seats.js"
import { SessionDirectory } from "./SessionDirectory.js"
import { Steps } from "./Steps.js"

export interface LaunchRequest {
  /** A stored blueprint's id (latest version) or an inline blueprint document. */
  readonly blueprint: string | unknown
  readonly input?: unknown
  readonly operator_sid?: string
}

export interface NewRunRequest {
  readonly input?: unknown
  readonly operator_sid?: string
}

export interface Launched {
  readonly task_id: TaskId
  readonly run_id: RunId
  readonly status: "running"
}

export type { RunSummary, RunView, TaskSummary, TaskView }

export interface RunsShape {
  /** `POST /v1/tasks`: a new task and its first run. */
  readonly launch: (
    request: LaunchRequest
  ) => Effect.Effect<Launched, BlueprintNotFound | InvalidBlueprint | UnknownSession>
  /** `POST /v1/tasks/:id/runs`: input defaults to the blueprint's default_input only. */
  readonly runTask: (taskId: string, request: NewRunRequest) => Effect.Effect<Launched, TaskNotFound | UnknownSession>
  readonly listTasks: Effect.Effect<ReadonlyArray<TaskSummary>>
  readonly getTask: (taskId: string) => Effect.Effect<TaskView, TaskNotFound>
  readonly get: (runId: string) => Effect.Effect<RunView, RunNotFound>
  /** Newest first. */
  readonly list: (query?: { readonly status?: RunStatus; readonly limit?: number }) => Effect.Effect<ReadonlyArray<RunSummary>>
  /** Returns once the run is `cancelled` (its fiber and subprocesses are gone). */
  readonly cancel: (runId: string) => Effect.Effect<void, RunNotFound | RunAlreadyFinished>
  readonly resume: (runId: string) => Effect.Effect<void, RunNotFound | NotInterrupted>
  /** Seat `sid` in `slot` (default: the first declared seat). */
  readonly acquire: (
    runId: string,
    sid: string,
    slot?: string
  ) => Effect.Effect<TakeResult, RunNotFound | RunAlreadyFinished | SeatNotFound | UnknownSession>
  /** The run as `get` shows it, once it is no longer `running`. */
  readonly awaitEnd: (runId: string) => Effect.Effect<RunView, RunNotFound>
  /** Past events, then live ones, ending after `run_finished`. */
  readonly events: (runId: string) => Effect.Effect<Stream.Stream<RunEvent>, RunNotFound>
}

interface LiveRun {
  readonly cancelling: Ref.Ref<boolean>
  readonly dispatch: RunDispatch
  readonly fiber: Deferred.Deferred<Fiber.RuntimeFiber<void>>
  readonly ended: Deferred.Deferred<void>
}

const isObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** blueprint.default_input shallow-merged with the launch input (input wins). */
export const mergeInput = (defaults: unknown, input: unknown): unknown => {
  if (input === undefined) return defaults ?? {}
  if (isObject(defaults) && isObject(input)) return { ...defaults, ...input }
  return input
}

const isoNow = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms).toISOString())

const runError = (cause: Cause.Cause<FlowError>): RunError => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const e = failure.value
    return {
      message: e.message,
      ...(e.failedStep !== undefined ? { failed_step: e.failedStep } : {}),
      ...(e.stepValue !== undefined ? { step_value: e.stepValue } : {})
    }
  }
  return { message: `internal error: ${Cause.pretty(cause)}` }
}

export class Runs extends Context.Tag("swarmgate/Runs")<Runs, RunsShape>() {
  static readonly layer: Layer.Layer<
    Runs,
    never,
    Dispatcher | BlueprintRepo | TaskRepo | RunRepo | Steps | RunEvents | Seats | SessionDirectory
  > = Layer.scoped(
    Runs,
    Effect.gen(function*() {
      const scope: Scope.Scope = yield* Effect.scope
      const dispatcher = yield* Dispatcher
      const blueprints = yield* BlueprintRepo
      const tasks = yield* TaskRepo
      const runs = yield* RunRepo
      const steps = yield* Steps
      const events = yield* RunEvents
      const seats = yield* Seats
      const directory = yield* SessionDirectory
      const live = new Map<string, LiveRun>()
      // read-modify-write of run records (the fiber's end vs. acquire) goes through this
      const recordLock = yield* Effect.makeSemaphore(1)

      const updateRun = (runId: RunId, f: (r: RunRecord) => RunRecord) =>
        recordLock.withPermits(1)(Effect.flatMap(runs.get(runId), Option.match({
          onNone: () => Effect.succeedNone,
          onSome: (r) => {
            const next = f(r)
            return Effect.as(runs.put(next), Option.some(next))
          }
        })))

      const noRun = (runId: string) => new RunNotFound({ runId, message: `no run ${runId}` })
      const findRun = (runId: string) =>
        !isRunId(runId) ? Effect.fail(noRun(runId)) : Effect.flatMap(runs.get(runId), Option.match({
          onNone: () => Effect.fail(noRun(runId)),
          onSome: Effect.succeed
        }))

      const noTask = (taskId: string) => new TaskNotFound({ taskId, message: `no task ${taskId}` })
      const taskOf = (taskId: string) =>
        !isTaskId(taskId) ? Effect.fail(noTask(taskId)) : Effect.flatMap(tasks.get(taskId), Option.match({
          onNone: () => Effect.fail(noTask(taskId)),
          onSome: Effect.succeed
        }))

      const unknownSession = (sid: string) => new UnknownSession({ sid, message: `no operator session ${sid}` })
      const checkSid = (sid: string): Effect.Effect<Sid, UnknownSession> =>
        !isSid(sid)
          ? Effect.fail(unknownSession(sid))
          : Effect.flatMap(directory.exists(sid), (ok) => ok ? Effect.succeed(sid) : Effect.fail(unknownSession(sid)))
      const checkSession = (sid: string | undefined) => sid === undefined ? Effect.succeed(undefined) : checkSid(sid)

      const seatNames = (bp: Blueprint) => (bp.operators ?? []).map((o) => o.name)

      const summary = (r: RunRecord) => Effect.map(seats.view(r.run_id), (s): RunSummary => ({ ...r, seats: s }))
      const view = (r: RunRecord) =>
        Effect.zipWith(summary(r), steps.listByRun(r.run_id), (s, list): RunView => ({ ...s, steps: list.map(stepView) }))

      /** Fork the run's fiber; the record is stored and `running` already. */
      const start = (task: TaskRecord, run: RunRecord, resumed: boolean) =>
        Effect.gen(function*() {
          const previous = resumed ? yield* steps.listByRun(run.run_id) : undefined
          const dispatch = yield* dispatcher.forRun({
            runId: run.run_id,
            taskId: task.task_id,
            blueprint: task.blueprint,
            ...(previous !== undefined ? { previous } : {})
          })
          const entry: LiveRun = {
            cancelling: yield* Ref.make(false),
            dispatch,
            fiber: yield* Deferred.make<Fiber.RuntimeFiber<void>>(),
            ended: yield* Deferred.make<void>()
          }
          live.set(run.run_id, entry)
          // on resume, seats whose session is gone are emptied: their steps wait for a new holder
          yield* seats.open(run.run_id, resumed ? directory.exists : undefined)
          yield* events.publish({
            type: "run_started",
            run_id: run.run_id,
            status: "running",
            ...(resumed ? { message: "resumed" } : {})
          })
          const execution = evaluateFlow(task.blueprint.flow, run.input, dispatch.dispatch)
          const end = (exit: Exit.Exit<unknown, FlowError>) =>
            Effect.gen(function*() {
              const cancelling = yield* entry.cancelling
              const finishedAt = yield* isoNow
              const status: RunStatus = Exit.isSuccess(exit)
                ? "done"
                : Cause.isInterruptedOnly(exit.cause)
                ? cancelling ? "cancelled" : "interrupted"
                : cancelling
                ? "cancelled"
                : "failed"
              // an ended run takes no more worker input: sealed before the run says it ended
              if (status !== "interrupted") yield* steps.sealRun(run.run_id)
              yield* updateRun(run.run_id, (r) => {
                const { error: _e, finished_at: _f, result: _r, ...rest } = r
                return {
                  ...rest,
                  status,
                  ...(status !== "interrupted" ? { finished_at: finishedAt } : {}),
                  ...(Exit.isSuccess(exit) ? { result: exit.value } : {}),
                  ...(status === "failed" && Exit.isFailure(exit) ? { error: runError(exit.cause) } : {})
                }
              })
              // an interrupted run has not ended: it goes on when resumed; followers are told why the stream stops
              yield* events.publish(
                status === "interrupted"
                  ? { type: "run_interrupted", run_id: run.run_id, status, message: "the server stopped" }
                  : { type: "run_finished", run_id: run.run_id, status }
              )
              yield* seats.close(run.run_id)
              live.delete(run.run_id)
              yield* Deferred.succeed(entry.ended, undefined)
            })
          const fiber = yield* execution.pipe(
            Effect.onExit(end),
            Effect.asVoid,
            Effect.catchAllCause(() => Effect.void),
            Effect.forkIn(scope)
          )
          yield* Deferred.succeed(entry.fiber, fiber)
        })

      const newRun = (task: TaskRecord, input: unknown, sid: Sid | undefined) =>
        Effect.gen(function*() {
          const run: RunRecord = {
            run_id: newRunId(),
            task_id: task.task_id,
            status: "running",
            created_at: yield* isoNow,
            input: mergeInput(task.blueprint.default_input, input)
          }
          yield* runs.put(run)
          yield* seats.declare(run.run_id, seatNames(task.blueprint), sid)
          yield* start(task, run, false)
          return { task_id: task.task_id, run_id: run.run_id, status: "running" } as const
        })

      const resolveBlueprint = (spec: unknown) =>
        Effect.gen(function*() {
          if (typeof spec === "string") {
            const stored = yield* blueprints.get(spec)
            if (Option.isNone(stored)) {
              return yield* new BlueprintNotFound({ id: spec, message: `no blueprint ${spec}` })
            }
            return { blueprint: stored.value.blueprint, id: spec, version: stored.value.version as number | undefined }
          }
          const checked = validateBlueprint(spec)
          if (Either.isLeft(checked)) {
            return yield* new InvalidBlueprint({ problems: checked.left, message: formatProblems(checked.left) })
          }
          return { blueprint: checked.right, id: checked.right.id ?? "inline", version: undefined }
        })

      const launch: RunsShape["launch"] = (request) =>
        Effect.gen(function*() {
          const bp = yield* resolveBlueprint(request.blueprint)
          const sid = yield* checkSession(request.operator_sid)
          const task: TaskRecord = {
            task_id: newTaskId(),
            blueprint_id: bp.id,
            ...(bp.version !== undefined ? { blueprint_version: bp.version } : {}),
            blueprint: bp.blueprint,
            created_at: yield* isoNow
          }
          yield* tasks.insert(task)
          return yield* newRun(task, request.input, sid)
        })

      const runTask: RunsShape["runTask"] = (taskId, request) =>
        Effect.gen(function*() {
          const task = yield* taskOf(taskId)
          const sid = yield* checkSession(request.operator_sid)
          return yield* newRun(task, request.input, sid)
        })

      const withdrawAll = (runId: RunId, filter: (taskId: string) => boolean, reason: string, sids: ReadonlyArray<string>) =>
        Effect.forEach(
          sids,
          (sid) => directory.withdraw(sid, (e) => e.runId === runId && filter(e.taskId), reason),
          { discard: true }
        )

      const cancel: RunsShape["cancel"] = (id) =>
        Effect.gen(function*() {
          const run = yield* findRun(id)
          const runId = run.run_id
          const entry = live.get(runId)
          if (entry === undefined) {
            if (isRunEnded(run.status)) {
              return yield* new RunAlreadyFinished({
                runId,
                status: run.status,
                message: `run ${runId} has already finished (${run.status})`
              })
            }
            // interrupted (no fiber): cancelling it only changes the records
            const finishedAt = yield* isoNow
            yield* steps.sealRun(runId)
            yield* updateRun(runId, (r) => ({ ...r, status: "cancelled", finished_at: finishedAt }))
            yield* events.publish({ type: "run_finished", run_id: runId, status: "cancelled" })
            return
          }
          const first = yield* Ref.getAndSet(entry.cancelling, true)
          if (first) {
            yield* Deferred.await(entry.ended)
            return
          }
          yield* entry.dispatch.cancelling
          const holders = yield* seats.holders(runId)
          yield* withdrawAll(runId, () => true, RUN_CANCELLED, holders)
          const fiber = yield* Deferred.await(entry.fiber)
          yield* Fiber.interrupt(fiber)
          yield* Deferred.await(entry.ended)
        })

      const resume: RunsShape["resume"] = (runId) =>
        Effect.gen(function*() {
          const run = yield* findRun(runId)
          if (run.status !== "interrupted" || live.has(runId)) {
            return yield* new NotInterrupted({
              runId,
              status: run.status,
              message: `run ${runId} is ${run.status}; only an interrupted run can be resumed`
            })
          }
          const task = yield* Effect.orDie(taskOf(run.task_id))
          const next: RunRecord = { ...run, status: "running" }
          yield* runs.put(next)
          yield* start(task, next, true)
        })

      const acquire: RunsShape["acquire"] = (runId, sid, slot) =>
        Effect.gen(function*() {
          const run = yield* findRun(runId)
          if (isRunEnded(run.status)) {
            return yield* new RunAlreadyFinished({
              runId,
              status: run.status,
              message: `run ${runId} has already finished (${run.status})`
            })
          }
          const names = Object.keys(yield* seats.view(run.run_id))
          const name = slot ?? names[0]
          if (name === undefined || !names.includes(name)) {
            return yield* new SeatNotFound({
              runId,
              slot: name ?? "",
              message: names.length === 0
                ? `run ${runId} declares no operator seats`
                : `run ${runId} has no seat "${name}": use one of ${names.join(", ")}`
            })
          }
          const holder = yield* checkSid(sid)
          // not live (interrupted): only the stored seating changes
          const result = yield* seats.take(run.run_id, name, holder)
          if (result.previous !== undefined && result.previous.sid !== sid) {
            const list = yield* steps.listByRun(run.run_id)
            const ofSeat = new Set<string>(
              list.filter((s) => s.seat === name && !isStepFinished(s.status)).map((s) => s.step_id)
            )
            yield* withdrawAll(run.run_id, (taskId) => ofSeat.has(taskId), SEAT_TAKEN_OVER, [result.previous.sid])
          }
          return result
        })

      const awaitEnd: RunsShape["awaitEnd"] = (runId) =>
        Effect.gen(function*() {
          const entry = live.get(runId)
          if (entry !== undefined) yield* Deferred.await(entry.ended)
          return yield* view(yield* findRun(runId))
        })

      const listTasks: RunsShape["listTasks"] = Effect.gen(function*() {
        const all = yield* tasks.list
        return yield* Effect.forEach(all, (t) =>
          Effect.map(runs.listByTask(t.task_id), (rs): TaskSummary => {
            const last = rs.at(-1)
            return {
              task_id: t.task_id,
              blueprint_id: t.blueprint_id,
              created_at: t.created_at,
              last_run_id: last?.run_id ?? null,
              last_status: last?.status ?? null
            }
          }))
      })

      const getTask: RunsShape["getTask"] = (taskId) =>
        Effect.gen(function*() {
          const t = yield* taskOf(taskId)
          const rs = yield* Effect.forEach(yield* runs.listByTask(t.task_id), summary)
          return {
            task_id: t.task_id,
            blueprint_id: t.blueprint_id,
            ...(t.blueprint_version !== undefined ? { blueprint_version: t.blueprint_version } : {}),
            created_at: t.created_at,
            runs: rs
          }
        })

      // runs that were running when the previous process stopped are interrupted, not running
      const stale = yield* runs.list({ status: "running" })
      yield* Effect.forEach(stale, (r) =>
        Effect.zipRight(
          runs.put({ ...r, status: "interrupted" }),
          // the process that ran it was killed before it could say so in the run's log
          events.publish({ type: "run_interrupted", run_id: r.run_id, status: "interrupted", message: "the server stopped" })
        ), { discard: true })

      return {
        launch,
        runTask,
        listTasks,
        getTask,
        get: (runId) => Effect.flatMap(findRun(runId), view),
        list: (query = {}) => Effect.flatMap(runs.list(query), Effect.forEach(summary)),
        cancel,
        resume,
        acquire,
        awaitEnd,
        events: (runId) => Effect.map(findRun(runId), (r) => events.stream(r.run_id))
      }
    })
  )
}
