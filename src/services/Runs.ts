/**
 * Tasks and runs as the API sees them (docs/http.md, tasks and runs): making tasks, finding
 * records and building their views. The run's life (fiber, cancel, resume, seats) is
 * RunLifecycle's; this service checks what the caller named and hands it over.
 */
import { Clock, Context, Duration, Effect, Either, Layer, Option, type Stream } from "effect"
import { isRunId, isSid, isTaskId, newTaskId, type RunId, type Sid, type TaskId } from "../protocol/ids.js"
import { type RunEvent, type RunRecord, type RunStatus, stepView, type TaskRecord } from "../protocol/records.js"
import type { RunSummary, RunView, TaskSummary, TaskView } from "../protocol/views.js"
import {
  BlueprintNotFound,
  InvalidBlueprint,
  NeedsOperator,
  type NotInterrupted,
  type RunAlreadyFinished,
  RunNotFound,
  type SeatNotFound,
  type SlotRequired,
  TaskNotFound,
  UnknownSession,
  WaitTimeout
} from "./EngineErrors.js"
import { formatProblems, validateBlueprint } from "./flow/validate.js"
import { BlueprintRepo } from "./repos/BlueprintRepo.js"
import { RunRepo } from "./repos/RunRepo.js"
import { TaskRepo } from "./repos/TaskRepo.js"
import { RunEvents } from "./RunEvents.js"
import { RunLifecycle } from "./RunLifecycle.js"
import { Seats, type TakeResult } from "./Seats.js"
import { SessionDirectory } from "./SessionDirectory.js"
import { Steps } from "./Steps.js"

export { mergeInput } from "./RunLifecycle.js"

export interface LaunchRequest {
  /** A stored blueprint's id (latest version) or an inline blueprint document. */
  readonly blueprint: string | unknown
  readonly input?: unknown
  readonly operator_sid?: string
  /** The caller will wait for the end: refused (NeedsOperator) when no operator would be seated. */
  readonly wait?: boolean
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
  ) => Effect.Effect<Launched, BlueprintNotFound | InvalidBlueprint | UnknownSession | NeedsOperator>
  /** `POST /v1/tasks/:id/runs`: without input, the task's original input (its first run's). */
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
  ) => Effect.Effect<TakeResult, RunNotFound | RunAlreadyFinished | SeatNotFound | SlotRequired | UnknownSession>
  /** The run as `get` shows it, once it is no longer `running`; WaitTimeout after `within` (the run goes on). */
  readonly awaitEnd: (runId: string, within?: Duration.DurationInput) => Effect.Effect<RunView, RunNotFound | WaitTimeout>
  /** Past events, then live ones, ending after `run_finished`. */
  readonly events: (runId: string) => Effect.Effect<Stream.Stream<RunEvent>, RunNotFound>
}

const isoNow = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms).toISOString())

export class Runs extends Context.Tag("swarmgate/Runs")<Runs, RunsShape>() {
  static readonly layer: Layer.Layer<
    Runs,
    never,
    RunLifecycle | BlueprintRepo | TaskRepo | RunRepo | Steps | RunEvents | Seats | SessionDirectory
  > = Layer.effect(
    Runs,
    Effect.gen(function*() {
      const lifecycle = yield* RunLifecycle
      const blueprints = yield* BlueprintRepo
      const tasks = yield* TaskRepo
      const runs = yield* RunRepo
      const steps = yield* Steps
      const events = yield* RunEvents
      const seats = yield* Seats
      const directory = yield* SessionDirectory

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

      const summary = (r: RunRecord) => Effect.map(seats.view(r.run_id), (s): RunSummary => ({ ...r, seats: s }))
      const view = (r: RunRecord) =>
        Effect.zipWith(summary(r), steps.listByRun(r.run_id), (s, list): RunView => ({ ...s, steps: list.map(stepView) }))

      const newRun = (task: TaskRecord, input: unknown, sid: Sid | undefined) =>
        Effect.map(lifecycle.launch(task, input, sid), (run) =>
          ({ task_id: task.task_id, run_id: run.run_id, status: "running" }) as const)

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
          const declared = (bp.blueprint.operators ?? []).map((o) => o.name)
          if (request.wait === true && sid === undefined && declared.length > 0) {
            // waiting would hang until someone acquires a seat: refused before anything is created
            return yield* new NeedsOperator({
              seats: declared,
              message: `the blueprint's steps need an operator (seats: ${declared.join(", ")}) and none is seated`
            })
          }
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
          // a re-run without input repeats the task: its first run's input (defaults already merged)
          const input = request.input !== undefined
            ? request.input
            : (yield* runs.listByTask(task.task_id))[0]?.input
          return yield* newRun(task, input, sid)
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
            blueprint: t.blueprint,
            runs: rs
          }
        })

      return {
        launch,
        runTask,
        listTasks,
        getTask,
        get: (runId) => Effect.flatMap(findRun(runId), view),
        list: (query = {}) => Effect.flatMap(runs.list(query), Effect.forEach(summary)),
        cancel: (runId) => Effect.flatMap(findRun(runId), lifecycle.cancel),
        resume: (runId) =>
          Effect.gen(function*() {
            const run = yield* findRun(runId)
            return yield* lifecycle.resume(run, yield* Effect.orDie(taskOf(run.task_id)))
          }),
        acquire: (runId, sid, slot) =>
          Effect.gen(function*() {
            const run = yield* findRun(runId)
            const holder = yield* checkSid(sid)
            return yield* lifecycle.acquire(run, holder, slot)
          }),
        awaitEnd: (runId, within) =>
          Effect.gen(function*() {
            const run = yield* findRun(runId)
            const end = lifecycle.awaitEnd(run.run_id)
            if (within !== undefined) {
              const ms = Duration.toMillis(Duration.decode(within))
              const ended = yield* Effect.timeoutOption(end, ms)
              if (Option.isNone(ended)) {
                return yield* new WaitTimeout({
                  runId: run.run_id,
                  waitMs: ms,
                  message: `run ${run.run_id} did not end within wait_ms=${ms}`
                })
              }
            } else yield* end
            return yield* view(yield* findRun(runId))
          }),
        events: (runId) => Effect.map(findRun(runId), (r) => events.stream(r.run_id))
      }
    })
  )
}
