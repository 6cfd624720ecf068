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
import { newRunId, newTaskId } from "../protocol/ids.js"
import { RUN_CANCELLED, SEAT_TAKEN_OVER } from "./agents/seated.js"
import { Dispatcher } from "./Dispatcher.js"
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
import { isStepFinished, StepRepo, stepView, type StepView } from "./repos/StepRepo.js"
import { type TaskRecord, TaskRepo } from "./repos/TaskRepo.js"
import { RunEvents } from "./RunEvents.js"
import { Seats, type TakeResult } from "./Seats.js"
import { SessionDirectory } from "./SessionDirectory.js"
import { StepGate } from "./StepGate.js"

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
  readonly task_id: string
  readonly run_id: string
  readonly status: "running"
}

/** A run without its steps (`GET /v1/runs`): the stored record as it is. */
export type RunSummary = RunRecord

/** `GET /v1/runs/:id`. */
export interface RunView extends RunSummary {
  readonly steps: ReadonlyArray<StepView>
}

/** An entry of `GET /v1/tasks`. */
export interface TaskSummary {
  readonly task_id: string
  readonly blueprint_id: string
  readonly created_at: string
  readonly last_run_id: string | null
  readonly last_status: RunStatus | null
}

/** `GET /v1/tasks/:id`. */
export interface TaskView {
  readonly task_id: string
  readonly blueprint_id: string
  readonly blueprint_version?: number
  readonly created_at: string
  /** Oldest first. */
  readonly runs: ReadonlyArray<RunSummary>
}

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
    Dispatcher | BlueprintRepo | TaskRepo | RunRepo | StepRepo | RunEvents | Seats | SessionDirectory | StepGate
  > = Layer.scoped(
    Runs,
    Effect.gen(function*() {
      const scope: Scope.Scope = yield* Effect.scope
      const dispatcher = yield* Dispatcher
      const blueprints = yield* BlueprintRepo
      const tasks = yield* TaskRepo
      const runs = yield* RunRepo
      const steps = yield* StepRepo
      const events = yield* RunEvents
      const seats = yield* Seats
      const directory = yield* SessionDirectory
      const gate = yield* StepGate
      const live = new Map<string, LiveRun>()
      // read-modify-write of run records (the fiber's end vs. acquire) goes through this
      const recordLock = yield* Effect.makeSemaphore(1)

      const updateRun = (runId: string, f: (r: RunRecord) => RunRecord) =>
        recordLock.withPermits(1)(Effect.flatMap(runs.get(runId), Option.match({
          onNone: () => Effect.succeedNone,
          onSome: (r) => {
            const next = f(r)
            return Effect.as(runs.put(next), Option.some(next))
          }
        })))

      const findRun = (runId: string) =>
        Effect.flatMap(runs.get(runId), Option.match({
          onNone: () => Effect.fail(new RunNotFound({ runId, message: `no run ${runId}` })),
          onSome: Effect.succeed
        }))

      const taskOf = (taskId: string) =>
        Effect.flatMap(tasks.get(taskId), Option.match({
          onNone: () => Effect.fail(new TaskNotFound({ taskId, message: `no task ${taskId}` })),
          onSome: Effect.succeed
        }))

      const checkSession = (sid: string | undefined) =>
        sid === undefined
          ? Effect.void
          : Effect.flatMap(directory.exists(sid), (ok) =>
            ok ? Effect.void : Effect.fail(new UnknownSession({ sid, message: `no operator session ${sid}` })))

      const seatNames = (bp: Blueprint) => (bp.operators ?? []).map((o) => o.name)

      const view = (r: RunRecord) =>
        Effect.map(steps.listByRun(r.run_id), (list): RunView => ({ ...r, steps: list.map(stepView) }))

      /**
       * Steps a fanout stopped without a verdict (the siblings of a failed `all` branch, the
       * losers of `any` / `race`) are still `running` when their run ends; a finished run
       * lists none of its steps as running, so they are recorded `cancelled`.
       */
      const closeUnfinished = (runId: string, at: string) =>
        Effect.flatMap(steps.listByRun(runId), (list) =>
          Effect.forEach(list.filter((s) => !isStepFinished(s.status)), (s) =>
            Effect.gen(function*() {
              const message = "the run ended before this step finished (another branch of its fanout decided the run)"
              const closed = yield* gate.locked(Effect.flatMap(steps.get(s.step_id), (current) =>
                Option.isNone(current) || isStepFinished(current.value.status)
                  ? Effect.succeed(false)
                  : Effect.as(
                    steps.put({ ...current.value, status: "cancelled", finished_at: at, sealed: true, error: message }),
                    true
                  )))
              if (!closed) return
              yield* events.publish({
                type: "step_finished",
                run_id: runId,
                step_id: s.step_id,
                ref: s.ref,
                attempt: s.attempt,
                status: "cancelled",
                message
              })
            }), { discard: true }))

      /** Fork the run's fiber; the record is stored and `running` already. */
      const start = (task: TaskRecord, run: RunRecord, resumed: boolean) =>
        Effect.gen(function*() {
          const entry: LiveRun = {
            cancelling: yield* Ref.make(false),
            fiber: yield* Deferred.make<Fiber.RuntimeFiber<void>>(),
            ended: yield* Deferred.make<void>()
          }
          live.set(run.run_id, entry)
          yield* seats.open(run.run_id, run.seats)
          yield* events.publish({
            type: "run_started",
            run_id: run.run_id,
            status: "running",
            ...(resumed ? { message: "resumed" } : {})
          })
          const previous = resumed ? yield* steps.listByRun(run.run_id) : undefined
          const execution = Effect.gen(function*() {
            const dispatch = yield* dispatcher.forRun({
              runId: run.run_id,
              taskId: task.task_id,
              blueprint: task.blueprint,
              cancelling: entry.cancelling,
              ...(previous !== undefined ? { previous } : {})
            })
            return yield* evaluateFlow(task.blueprint.flow, run.input, dispatch)
          })
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
              // an interrupted run has not ended: it goes on when resumed; its followers are told
              if (status === "interrupted") {
                yield* events.publish({ type: "run_interrupted", run_id: run.run_id, status })
              } else {
                yield* closeUnfinished(run.run_id, finishedAt)
                yield* events.publish({ type: "run_finished", run_id: run.run_id, status })
              }
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

      const newRun = (task: TaskRecord, input: unknown, sid: string | undefined) =>
        Effect.gen(function*() {
          const run: RunRecord = {
            run_id: newRunId(),
            task_id: task.task_id,
            status: "running",
            created_at: yield* isoNow,
            input: mergeInput(task.blueprint.default_input, input),
            seats: Object.fromEntries(
              seatNames(task.blueprint).map((name) => [name, sid !== undefined ? { sid, generation: 1 } : null])
            )
          }
          yield* runs.put(run)
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
          yield* checkSession(request.operator_sid)
          const task: TaskRecord = {
            task_id: newTaskId(),
            blueprint_id: bp.id,
            ...(bp.version !== undefined ? { blueprint_version: bp.version } : {}),
            blueprint: bp.blueprint,
            created_at: yield* isoNow
          }
          yield* tasks.insert(task)
          return yield* newRun(task, request.input, request.operator_sid)
        })

      const runTask: RunsShape["runTask"] = (taskId, request) =>
        Effect.gen(function*() {
          const task = yield* taskOf(taskId)
          yield* checkSession(request.operator_sid)
          return yield* newRun(task, request.input, request.operator_sid)
        })

      const withdrawAll = (runId: string, filter: (taskId: string) => boolean, reason: string, sids: ReadonlyArray<string>) =>
        Effect.forEach(
          sids,
          (sid) => directory.withdraw(sid, (e) => e.runId === runId && filter(e.taskId), reason),
          { discard: true }
        )

      const cancel: RunsShape["cancel"] = (runId) =>
        Effect.gen(function*() {
          const run = yield* findRun(runId)
          const entry = live.get(runId)
          if (entry === undefined) {
            if (isRunEnded(run.status)) {
              return yield* new RunAlreadyFinished({
                runId,
                status: run.status,
                message: `run ${runId} has already finished (${run.status})`
              })
            }
            // interrupted (no fiber): cancelling it only changes the record
            const finishedAt = yield* isoNow
            yield* updateRun(runId, (r) => ({ ...r, status: "cancelled", finished_at: finishedAt }))
            yield* events.publish({ type: "run_finished", run_id: runId, status: "cancelled" })
            return
          }
          const first = yield* Ref.getAndSet(entry.cancelling, true)
          if (first) {
            yield* Deferred.await(entry.ended)
            return
          }
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
          // seats whose session is gone are emptied: their steps wait for a new holder
          const kept: Record<string, RunRecord["seats"][string]> = {}
          for (const [name, seat] of Object.entries(run.seats)) {
            kept[name] = seat !== null && (yield* directory.exists(seat.sid)) ? seat : null
          }
          const next: RunRecord = { ...run, status: "running", seats: kept }
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
          const names = Object.keys(run.seats)
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
          yield* checkSession(sid)
          const taken = yield* seats.take(runId, name, sid)
          const result: TakeResult = Option.getOrElse(taken, () => {
            // not live (interrupted): only the stored seating changes
            const previous = run.seats[name] ?? undefined
            return {
              slot: name,
              generation: (previous?.generation ?? 0) + 1,
              ...(previous !== undefined ? { previous } : {})
            }
          })
          yield* updateRun(runId, (r) => ({ ...r, seats: { ...r.seats, [name]: { sid, generation: result.generation } } }))
          if (result.previous !== undefined && result.previous.sid !== sid) {
            const list = yield* steps.listByRun(runId)
            const ofSeat = new Set(list.filter((s) => s.seat === name && !isStepFinished(s.status)).map((s) => s.step_id))
            yield* withdrawAll(runId, (taskId) => ofSeat.has(taskId), SEAT_TAKEN_OVER, [result.previous.sid])
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
          const rs = yield* runs.listByTask(taskId)
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
      yield* Effect.forEach(stale, (r) => runs.put({ ...r, status: "interrupted" }), { discard: true })

      return {
        launch,
        runTask,
        listTasks,
        getTask,
        get: (runId) => Effect.flatMap(findRun(runId), view),
        list: (query = {}) => runs.list(query),
        cancel,
        resume,
        acquire,
        awaitEnd,
        events: (runId) => Effect.as(findRun(runId), events.stream(runId))
      }
    })
  )
}
