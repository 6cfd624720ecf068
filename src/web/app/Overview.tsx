import { useState } from "preact/hooks"
import { apiToken, call, type OperatorInfo, type Run, setApiToken, type Status } from "./api.js"
import type { Operator } from "./operator.js"
import { time, usePoll } from "./poll.js"

const Count = ({ label, value, id }: { label: string; value: number | undefined; id: string }) => (
  <div class="count">
    <span class="count-value" id={id} aria-labelledby={`${id}-label`}>{value ?? "–"}</span>
    <span class="count-label" id={`${id}-label`}>{label}</span>
  </div>
)

export const Overview = ({ operator }: { operator: Operator | undefined }) => {
  const status = usePoll(() => call<Status>("GET", "/v1/status"), 1000)
  const runs = usePoll(() => call<{ runs: Array<Run> }>("GET", "/v1/runs?limit=50"), 1000)
  // listing sessions needs a live session token: only once this page has joined
  const ops = usePoll(
    () =>
      operator === undefined
        ? Promise.resolve(undefined)
        : call<{ operators: Array<OperatorInfo> }>("GET", "/v1/operators", { bearer: operator.state.token }),
    1000,
    [operator]
  )
  const s = status.value
  return (
    <main>
      <h1>Overview</h1>
      {status.error && <p role="alert" class="error">Status: {status.error}</p>}
      <section aria-label="counts" class="counts" aria-live="polite">
        <Count id="count-sessions" label="sessions" value={s?.sessions} />
        <Count id="count-connected" label="connected" value={s?.connected_sessions} />
        <Count id="count-running" label="running runs" value={s?.running_runs} />
        <Count id="count-pending" label="pending requests" value={s?.pending_requests} />
      </section>
      <section aria-labelledby="runs-heading">
        <h2 id="runs-heading">Runs</h2>
        {runs.error && <p role="alert" class="error">{runs.error}</p>}
        {runs.value && runs.value.runs.length === 0 && <p>No runs yet. Start one with <code>POST /v1/tasks</code>.</p>}
        {runs.value && runs.value.runs.length > 0 && (
          <div class="scroll">
            <table class="runs">
              <thead>
                <tr><th scope="col">run</th><th scope="col">status</th><th scope="col">task</th><th scope="col">started</th><th scope="col">seats</th></tr>
              </thead>
              <tbody>
                {runs.value.runs.map((run) => (
                  <tr key={run.run_id} data-run={run.run_id}>
                    <td><a href={`#/runs/${run.run_id}`}>{run.run_id}</a></td>
                    <td><span class={`status status-${run.status}`}>{run.status}</span></td>
                    <td>{run.task_id}</td>
                    <td>{time(run.created_at)}</td>
                    <td>{Object.entries(run.seats).map(([slot, seat]) => `${slot}: ${seat ? seat.sid.slice(0, 10) + "…" : "empty"}`).join(", ")}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <section aria-labelledby="sessions-heading">
        <h2 id="sessions-heading">Operator sessions</h2>
        {operator === undefined
          ? <p>Listing sessions needs a session token: <a href="#/operator">join as an operator</a> first.</p>
          : ops.error
          ? <p role="alert" class="error">{ops.error}</p>
          : (
            <ul class="sessions">
              {ops.value?.operators.map((o) => (
                <li key={o.sid}>
                  <code>{o.sid}</code> {o.desc ? `“${o.desc}”` : ""} — {o.connected ? "connected" : "disconnected"}, {o.pending} pending
                </li>
              ))}
            </ul>
          )}
      </section>
      <ApiTokenForm />
    </main>
  )
}

/** Only for a server bound beyond loopback, where the run routes need the API token. */
const ApiTokenForm = () => {
  const [token, setToken] = useState(apiToken() ?? "")
  const [saved, setSaved] = useState(false)
  return (
    <details>
      <summary>API token (servers reached beyond loopback)</summary>
      <form onSubmit={(e) => { e.preventDefault(); setApiToken(token); setSaved(true) }}>
        <label for="api-token">API token, kept in this browser</label>
        <input id="api-token" type="password" autoComplete="off" value={token} onInput={(e) => { setToken((e.target as HTMLInputElement).value); setSaved(false) }} />
        <button type="submit">Save</button>
        {saved && <span role="status">Saved.</span>}
      </form>
    </details>
  )
}
