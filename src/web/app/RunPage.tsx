import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks"
import type { Blueprint } from "../../protocol/blueprint.js"
import { ApiFailure, call, followEvents, messageOf, type Run } from "./api.js"
import { openRequests, type RunEvent } from "./flow.js"
import { FlowView } from "./FlowView.js"
import { Json } from "./Json.js"
import type { Operator } from "./operator.js"
import { duration, time, usePoll } from "./poll.js"

/**
 * Events refetch the run, at most once per `everyMs` (the first at once): a fanout's burst
 * of events costs a few requests, not one per event (docs/performance.md, "Web console").
 */
const REFETCH_MS = 250
const useCoalesced = (everyMs: number) => {
  const [tick, setTick] = useState(0)
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined)
  const last = useRef(0)
  useEffect(() => () => clearTimeout(timer.current), [])
  const bump = useCallback(() => {
    if (timer.current !== undefined) return
    timer.current = setTimeout(() => {
      timer.current = undefined
      last.current = Date.now()
      setTick((t) => t + 1)
    }, Math.max(0, last.current + everyMs - Date.now()))
  }, [everyMs])
  return [tick, bump] as const
}

/**
 * The run's event stream: replayed, then live, until the run ends; deduped by `seq`. A
 * stream that breaks before `run_finished` (network, server restart) is followed again
 * with `Last-Event-ID`, backing off from 500 ms to 5 s; 401/403/404 stop it.
 */
const useEvents = (runId: string, onEvent: () => void) => {
  const [events, setEvents] = useState<Array<RunEvent>>([])
  const [error, setError] = useState<string | undefined>(undefined)
  useEffect(() => {
    setEvents([])
    setError(undefined)
    const abort = new AbortController()
    let last = 0
    let finished = false
    const handle = (data: string) => {
      let event: RunEvent
      try {
        event = JSON.parse(data)
      } catch {
        return
      }
      if (event.type === "run_finished") finished = true
      if (event.seq <= last) return
      last = event.seq
      setError(undefined)
      setEvents((all) => [...all, event])
      onEvent()
    }
    const follow = async () => {
      for (let retry = 0; !abort.signal.aborted && !finished; retry++) {
        const before = last
        try {
          await followEvents(`/v1/runs/${runId}/events`, handle, abort.signal, last)
          if (finished || abort.signal.aborted) return
          setError("the event stream ended before the run did; following it again")
        } catch (e) {
          if (abort.signal.aborted) return
          if (e instanceof ApiFailure && [401, 403, 404].includes(e.status)) return setError(messageOf(e))
          setError(`${messageOf(e)}; following it again`)
        }
        if (last > before) retry = 0 // it got somewhere: the next break starts the backoff again
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 500 * 2 ** retry)))
      }
    }
    void follow()
    return () => abort.abort()
  }, [runId])
  return { events, error }
}

/** The run's blueprint: the task view carries the snapshot the task runs (stored or inline). */
const useBlueprint = (taskId: string | undefined) => {
  const [state, setState] = useState<{ blueprint?: Blueprint; note?: string }>({})
  useEffect(() => {
    setState({}) // another run's blueprint must not be drawn over this run's steps
    if (taskId === undefined) return
    let live = true
    const load = async () => {
      try {
        const task = await call<{ blueprint?: Blueprint }>("GET", `/v1/tasks/${taskId}`)
        return task.blueprint !== undefined
          ? { blueprint: task.blueprint }
          : { note: "The task view has no blueprint (an older server); the steps are listed in start order." }
      } catch (e) {
        return { note: `The blueprint could not be read (${messageOf(e)}); the steps are listed in start order.` }
      }
    }
    void load().then((s) => { if (live) setState(s) })
    return () => { live = false }
  }, [taskId])
  return state
}

const describe = (e: RunEvent): string =>
  [e.ref && `${e.ref}`, e.attempt !== undefined && `attempt ${e.attempt}`, e.kind, e.req_id, e.sid && `by ${e.sid.slice(0, 10)}…`, e.status, e.message]
    .filter(Boolean).join(" · ")

export const RunPage = ({ runId, operator }: { runId: string; operator: Operator | undefined }) => {
  const [tick, refresh] = useCoalesced(REFETCH_MS)
  const run = usePoll(() => call<Run>("GET", `/v1/runs/${runId}`), 2000, [runId, tick])
  const { events, error: streamError } = useEvents(runId, refresh)
  const [notice, setNotice] = useState<string | undefined>(undefined)
  const flow = useBlueprint(run.value?.task_id)
  const open = useMemo(() => openRequests(events), [events])

  const act = async (what: string, doIt: () => Promise<unknown>) => {
    try {
      await doIt()
      setNotice(`${what}: done`)
      refresh()
    } catch (e) {
      setNotice(`${what} failed: ${messageOf(e)}`)
    }
  }
  const r = run.value
  return (
    <main>
      <p><a href="#/">← Overview</a></p>
      <h1>Run <code>{runId}</code></h1>
      {run.error && <p role="alert" class="error">{run.error}</p>}
      {r && (
        <>
          <p>
            Status: <span class={`status status-${r.status}`} id="run-status" role="status">{r.status}</span> · task <code>{r.task_id}</code> ·
            started {time(r.created_at)} · {duration(r.created_at, r.finished_at)}
          </p>
          {r.error && <p class="error">Error: {r.error.message}{r.error.failed_step ? ` (step ${r.error.failed_step})` : ""}</p>}
          <div class="actions">
            <button type="button" disabled={r.status !== "running"} onClick={() => act("Cancel", () => call("POST", `/v1/runs/${runId}/cancel`))}>
              Cancel run
            </button>
            <button type="button" disabled={r.status !== "interrupted"} onClick={() => act("Resume", () => call("POST", `/v1/runs/${runId}/resume`))}>
              Resume run
            </button>
          </div>
          {notice && <p role="status">{notice}</p>}
          <section aria-labelledby="flow-heading">
            <h2 id="flow-heading">Flow</h2>
            <FlowView run={r} blueprint={flow.blueprint} note={flow.note} open={open} />
            {r.result !== undefined && <div>Result: <Json value={r.result} label="result" /></div>}
          </section>
          <section aria-labelledby="seats-heading">
            <h2 id="seats-heading">Seats</h2>
            {Object.keys(r.seats).length === 0 ? <p>This run has no operator seats.</p> : (
              <ul>
                {Object.entries(r.seats).map(([slot, seat]) => (
                  <li key={slot}>
                    <strong>{slot}</strong>: {seat ? <><code>{seat.sid}</code> (generation {seat.generation})</> : "empty"}{" "}
                    {operator && r.status === "running" && seat?.sid !== operator.state.sid && (
                      <button type="button" onClick={() =>
                        act(`Take seat ${slot}`, () =>
                          call("POST", `/v1/runs/${runId}/acquire`, { bearer: operator.state.token, body: { sid: operator.state.sid, slot } }))}>
                        Take this seat
                      </button>
                    )}
                  </li>
                ))}
              </ul>
            )}
          </section>
        </>
      )}
      <section aria-labelledby="events-heading">
        <h2 id="events-heading">Events (live)</h2>
        {streamError && <p role="alert" class="error">Event stream: {streamError}</p>}
        <ol class="events">
          {events.map((e) => (
            <li key={e.seq}><span class="muted">{time(e.at)}</span> <strong>{e.type}</strong> {describe(e)}</li>
          ))}
        </ol>
      </section>
    </main>
  )
}
