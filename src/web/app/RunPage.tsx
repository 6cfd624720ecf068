import { useEffect, useState } from "preact/hooks"
import { call, followEvents, messageOf, type Run } from "./api.js"
import { Json } from "./Json.js"
import type { Operator } from "./operator.js"
import { duration, time, usePoll } from "./poll.js"

interface RunEvent {
  seq: number
  type: string
  at: string
  step_id?: string
  ref?: string
  attempt?: number
  req_id?: string
  kind?: string
  sid?: string
  status?: string
  message?: string
}

/** The run's event stream: replayed, then live, until the run ends; deduped by `seq`. */
const useEvents = (runId: string, onEvent: () => void) => {
  const [events, setEvents] = useState<Array<RunEvent>>([])
  const [error, setError] = useState<string | undefined>(undefined)
  useEffect(() => {
    setEvents([])
    const abort = new AbortController()
    let last = 0
    const handle = (data: string) => {
      let event: RunEvent
      try {
        event = JSON.parse(data)
      } catch {
        return
      }
      if (event.seq <= last) return
      last = event.seq
      setEvents((all) => [...all, event])
      onEvent()
    }
    followEvents(`/v1/runs/${runId}/events`, handle, abort.signal).catch((e) => {
      if (!abort.signal.aborted) setError(messageOf(e))
    })
    return () => abort.abort()
  }, [runId])
  return { events, error }
}

const describe = (e: RunEvent): string =>
  [e.ref && `${e.ref}`, e.attempt !== undefined && `attempt ${e.attempt}`, e.kind, e.req_id, e.sid && `by ${e.sid.slice(0, 10)}…`, e.status, e.message]
    .filter(Boolean).join(" · ")

export const RunPage = ({ runId, operator }: { runId: string; operator: Operator | undefined }) => {
  const [tick, setTick] = useState(0)
  const run = usePoll(() => call<Run>("GET", `/v1/runs/${runId}`), 2000, [runId, tick])
  const { events, error: streamError } = useEvents(runId, () => setTick((t) => t + 1))
  const [notice, setNotice] = useState<string | undefined>(undefined)

  const act = async (what: string, doIt: () => Promise<unknown>) => {
    try {
      await doIt()
      setNotice(`${what}: done`)
      setTick((t) => t + 1)
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
            Status: <span class={`status status-${r.status}`} id="run-status">{r.status}</span> · task <code>{r.task_id}</code> ·
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
          <section aria-labelledby="steps-heading">
            <h2 id="steps-heading">Steps</h2>
            {(r.steps ?? []).length === 0 && <p>No step has started yet.</p>}
            <ol class="steps">
              {(r.steps ?? []).map((s) => (
                <li key={s.step_id} class="step" data-step={s.step_id} data-ref={s.ref}>
                  <span class={`status status-${s.status}`}>{s.status}</span> <strong>{s.ref}</strong> attempt {s.attempt} ·{" "}
                  {duration(s.started_at, s.finished_at)} <code class="id">{s.step_id}</code>
                  {s.value !== undefined && <div>Value: <Json value={s.value} label="value" /></div>}
                  {s.error !== undefined && <div class="error">Error: <Json value={s.error} label="error" /></div>}
                </li>
              ))}
            </ol>
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
        <ol class="events" aria-live="polite">
          {events.map((e) => (
            <li key={e.seq}><span class="muted">{time(e.at)}</span> <strong>{e.type}</strong> {describe(e)}</li>
          ))}
        </ol>
      </section>
    </main>
  )
}
