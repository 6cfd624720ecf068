/**
 * The lifecycle of runs: one fiber per run, forked in this service's scope (not the
 * caller's), so a run outlives the request that launched it and stops with the server.
 * This is the one place that knows whether a run is live, and the only writer of run
 * records. Cancel tells the run's steps, withdraws its pending operator requests, then
 * interrupts the fiber (finalizers kill subprocesses). A seat take-over withdraws the
 * seat's pending requests from the previous holder so the step sends them again to the
 * new one.
 */
import { Context, Deferred, Effect, type Exit, Fiber, Layer, Option, Ref, type Scope } from "effect"
import type { Blueprint } from "../protocol/blueprint.js"
import { newRunId, type RunId, type Sid } from "../protocol/ids.js"
import { isRunEnded, type RunRecord, type TaskRecord } from "../protocol/records.js"
import type { Withdrawal, WithdrawalReason } from "../protocol/withdrawal.js"
import { Dispatcher, type RunDispatch } from "./Dispatcher.js"
import { NotInterrupted, RunAlreadyFinished, type SeatNotFound, type SlotRequired } from "./EngineErrors.js"
import { evaluateFlow, type FlowError } from "./flow/evaluate.js"
import { makeKeyedLock } from "./KeyedLock.js"
import { RunRepo } from "./repos/RunRepo.js"
import { isoNow, makeRunEnding } from "./RunEnding.js"
import { RunEvents } from "./RunEvents.js"
import { makeRunSeating } from "./RunSeating.js"
import { Seats, type TakeResult } from "./Seats.js"
import { SessionDirectory } from "./SessionDirectory.js"
import { Steps } from "./Steps.js"

export interface RunLifecycleShape {
  /** Store a new `running` run of the task with its declared seats (all held by `sid`, or empty), and start it. */
  readonly launch: (task: TaskRecord, input: unknown, sid: Sid | undefined) => Effect.Effect<RunRecord>
  /** Whether the run has a fiber in this process. */
  readonly isLive: (runId: RunId) => Effect.Effect<boolean>
  /** Returns once the run is `cancelled` (its fiber and subprocesses are gone). */
  readonly cancel: (run: RunRecord) => Effect.Effect<void, RunAlreadyFinished>
  /** Start an `interrupted` run again; its passed steps are not dispatched again. */
  readonly resume: (run: RunRecord, task: TaskRecord) => Effect.Effect<void, NotInterrupted>
  /** Seat a live session (the caller checked it) in `slot` (may be left out only when the run has one seat). */
  readonly acquire: (
    run: RunRecord,
    sid: Sid,
    slot?: string
  ) => Effect.Effect<TakeResult, RunAlreadyFinished | SeatNotFound | SlotRequired>
  /** Returns once the run is no longer live (at once when it is not). */
  readonly awaitEnd: (runId: RunId) => Effect.Effect<void>
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

const seatNames = (bp: Blueprint) => (bp.operators ?? []).map((o) => o.name)

export class RunLifecycle extends Context.Tag("swarmgate/RunLifecycle")<RunLifecycle, RunLifecycleShape>() {
  static readonly layer: Layer.Layer<
    RunLifecycle,
    never,
    Dispatcher | RunRepo | Steps | RunEvents | Seats | SessionDirectory
  > = Layer.scoped(
    RunLifecycle,
    Effect.gen(function*() {
      const scope: Scope.Scope = yield* Effect.scope
      const dispatcher = yield* Dispatcher
      const runs = yield* RunRepo
      const steps = yield* Steps
      const events = yield* RunEvents
      const seats = yield* Seats
      const directory = yield* SessionDirectory
      const live = new Map<RunId, LiveRun>()
      // read-modify-write of one run record (the fiber's end vs. cancel of an interrupted run)
      const lock = yield* makeKeyedLock<RunId>()

      const updateRun = (runId: RunId, f: (r: RunRecord) => RunRecord) =>
        lock.withLock(runId)(Effect.flatMap(runs.get(runId), Option.match({
          onNone: () => Effect.succeedNone,
          onSome: (r) => {
            const next = f(r)
            return Effect.as(runs.put(next), Option.some(next))
          }
        })))

      const withdrawAll = (target: Withdrawal, reason: WithdrawalReason, sids: ReadonlyArray<string>) =>
        Effect.forEach(sids, (sid) => directory.withdraw(sid, target, reason), { discard: true })

      const { end } = makeRunEnding({ steps, events, seats, updateRun })
      const seating = makeRunSeating(seats, steps)

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
          const ended = (exit: Exit.Exit<unknown, FlowError>) =>
            Effect.flatMap(entry.cancelling, (cancelling) => end(run.run_id, exit, cancelling)).pipe(
              Effect.zipRight(Effect.sync(() => live.delete(run.run_id))),
              Effect.zipRight(Deferred.succeed(entry.ended, undefined))
            )
          // Forked uninterruptibly so `end` is installed before a cancel can interrupt the
          // fiber: one interrupted before its first step would otherwise never run `end`, and
          // cancel would wait for `ended` forever. The flow itself is interruptible.
          const fiber = yield* Effect.interruptible(execution).pipe(
            Effect.onExit(ended),
            Effect.withSpan("run", { attributes: { "swarmgate.run_id": run.run_id, "swarmgate.resumed": resumed } }),
            Effect.asVoid,
            Effect.catchAllCause(() => Effect.void),
            Effect.forkIn(scope),
            Effect.uninterruptible
          )
          yield* Deferred.succeed(entry.fiber, fiber)
        })

      const launch: RunLifecycleShape["launch"] = (task, input, sid) =>
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
          return run
        })

      const cancel: RunLifecycleShape["cancel"] = (run) =>
        Effect.gen(function*() {
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
          yield* withdrawAll({ run_id: runId }, "run_cancelled", holders)
          const fiber = yield* Deferred.await(entry.fiber)
          yield* Fiber.interrupt(fiber)
          yield* Deferred.await(entry.ended)
        })

      const resume: RunLifecycleShape["resume"] = (run, task) =>
        Effect.gen(function*() {
          const runId = run.run_id
          if (run.status !== "interrupted" || live.has(runId)) {
            return yield* new NotInterrupted({
              runId,
              status: run.status,
              message: `run ${runId} is ${run.status}; only an interrupted run can be resumed`
            })
          }
          const next: RunRecord = { ...run, status: "running" }
          yield* runs.put(next)
          yield* start(task, next, true)
        })

      yield* directory.onTeardown((sid) => seating.vacate(sid as Sid))

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
        isLive: (runId) => Effect.sync(() => live.has(runId)),
        cancel,
        resume,
        acquire: seating.acquire,
        awaitEnd: (runId) => Effect.suspend(() => {
          const entry = live.get(runId)
          return entry === undefined ? Effect.void : Deferred.await(entry.ended)
        })
      }
    })
  )
}
