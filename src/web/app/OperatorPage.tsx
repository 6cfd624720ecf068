import { useState } from "preact/hooks"
import { call, messageOf } from "./api.js"
import { Json } from "./Json.js"
import { type Frame, Operator } from "./operator.js"

/** The sub-agent's prompt: exactly the four lines (five with a session alias) of the directive. */
export const subAgentLines = (frame: Frame): string => {
  const directive = String(frame.directive ?? "")
  const base = /GET (\S+)\/v1\/worker\/prompt/.exec(directive)?.[1] ?? location.origin
  const alias = /^project_name_alias: (.+)$/m.exec(directive)?.[1]
  const lines = [
    `agent_id: ${frame.agent}`,
    `worker_handle: ${frame.worker_handle ?? frame.capability_token}`,
    `base_url: ${base}`,
    `task_id: ${frame.task_id}`
  ]
  if (alias !== undefined) lines.push(`Session alias: ${alias}`)
  return lines.join("\n")
}

/** A typed answer: JSON when it parses, else the text as a string. */
const parseAnswer = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

const AskCard = ({ frame, operator }: { frame: Frame; operator: Operator }) => {
  const [text, setText] = useState("")
  const id = `answer-${frame.req_id}`
  return (
    <form onSubmit={(e) => { e.preventDefault(); operator.reply({ type: "answer", req_id: frame.req_id, value: parseAnswer(text) }) }}>
      <p>Question: <Json value={frame.question} label="question" /></p>
      <label for={id}>Your answer (JSON, or plain text)</label>
      <textarea id={id} rows={3} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
      <button type="submit">Send answer</button>
    </form>
  )
}

const HookCard = ({ frame, operator }: { frame: Frame; operator: Operator }) => {
  const [reason, setReason] = useState("")
  const id = `reason-${frame.req_id}`
  return (
    <div>
      <p>Start agent <strong>{String(frame.agent)}</strong> (attempt {String(frame.attempt)})?</p>
      <button type="button" onClick={() => operator.reply({ type: "hook_ack", req_id: frame.req_id, ok: true })}>Approve</button>
      <label for={id}>Reason for refusing (optional)</label>
      <input id={id} value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
      <button type="button" class="danger" onClick={() =>
        operator.reply({ type: "hook_ack", req_id: frame.req_id, ok: false, ...(reason.trim() ? { reason } : {}) })}>
        Refuse
      </button>
    </div>
  )
}

const SpawnCard = ({ frame, operator }: { frame: Frame; operator: Operator }) => {
  const [result, setResult] = useState("")
  const [verdict, setVerdict] = useState("pass")
  const [failure, setFailure] = useState("")
  const [error, setError] = useState<string | undefined>(undefined)
  const lines = subAgentLines(frame)
  const handle = String(frame.worker_handle ?? frame.capability_token)
  const rid = `result-${frame.req_id}`
  const submitByHand = async (e: Event) => {
    e.preventDefault()
    try {
      await call("POST", `/v1/worker/submit?verdict=${verdict}`, { raw: result, bearer: handle })
      operator.reply({ type: "spawn_ack", req_id: frame.req_id, ok: true, value: null })
    } catch (err) {
      setError(messageOf(err))
    }
  }
  return (
    <div>
      <p>Start a sub-agent for <strong>{String(frame.agent)}</strong> (attempt {String(frame.attempt)}) whose prompt is exactly:</p>
      <pre class="lines" data-testid="sub-agent-lines">{lines}</pre>
      <button type="button" onClick={() => void navigator.clipboard?.writeText(lines)}>Copy the lines</button>
      <button type="button" onClick={() => operator.reply({ type: "spawn_ack", req_id: frame.req_id, ok: true, value: null })}>
        The sub-agent submitted: send spawn_ack
      </button>
      <details>
        <summary>Directive</summary>
        <pre>{String(frame.directive ?? "")}</pre>
      </details>
      <form onSubmit={submitByHand}>
        <label for={rid}>Or submit the result by hand</label>
        <textarea id={rid} rows={4} value={result} onInput={(e) => setResult((e.target as HTMLTextAreaElement).value)} />
        <label for={`verdict-${frame.req_id}`}>Verdict</label>
        <select id={`verdict-${frame.req_id}`} value={verdict} onChange={(e) => setVerdict((e.target as HTMLSelectElement).value)}>
          <option value="pass">pass</option>
          <option value="blocked">blocked</option>
          <option value="skip">skip</option>
        </select>
        <button type="submit">Submit result and finish the step</button>
      </form>
      <form onSubmit={(e) => {
        e.preventDefault()
        operator.reply({ type: "spawn_ack", req_id: frame.req_id, ok: false, error: failure.trim() || "the operator could not start the sub-agent" })
      }}>
        <label for={`fail-${frame.req_id}`}>Or report that the sub-agent could not start</label>
        <input id={`fail-${frame.req_id}`} value={failure} onInput={(e) => setFailure((e.target as HTMLInputElement).value)} />
        <button type="submit" class="danger">Fail the step</button>
      </form>
      {error && <p role="alert" class="error">{error}</p>}
    </div>
  )
}

const TITLES: Record<string, string> = { ask: "Question", hook_before: "Approve a spawn", spawn: "Spawn a sub-agent" }

const JoinForm = ({ onJoin }: { onJoin: (op: Operator) => void }) => {
  const [desc, setDesc] = useState("")
  const [sid, setSid] = useState("")
  const [token, setToken] = useState("")
  const [error, setError] = useState<string | undefined>(undefined)
  return (
    <>
      <form onSubmit={async (e) => {
        e.preventDefault()
        try {
          onJoin(await Operator.join(desc))
        } catch (err) {
          setError(messageOf(err))
        }
      }}>
        <h2>Join as a new operator</h2>
        <label for="join-desc">Description (optional)</label>
        <input id="join-desc" value={desc} maxLength={200} onInput={(e) => setDesc((e.target as HTMLInputElement).value)} />
        <button type="submit">Join</button>
      </form>
      <form onSubmit={async (e) => {
        e.preventDefault()
        try {
          await call("GET", `/v1/operators/${sid.trim()}`, { bearer: token.trim() })
          onJoin(new Operator(sid.trim(), token.trim()))
        } catch (err) {
          setError(messageOf(err))
        }
      }}>
        <h2>Or take over an existing session</h2>
        <label for="paste-sid">Session id (sid)</label>
        <input id="paste-sid" value={sid} onInput={(e) => setSid((e.target as HTMLInputElement).value)} required />
        <label for="paste-token">Token</label>
        <input id="paste-token" type="password" value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} required />
        <button type="submit">Connect</button>
      </form>
      {error && <p role="alert" class="error">{error}</p>}
    </>
  )
}

export const OperatorPage = ({ operator, onJoin, onLeave }: {
  operator: Operator | undefined
  onJoin: (op: Operator) => void
  onLeave: () => void
}) => {
  if (operator === undefined) {
    return <main><h1>Operator mode</h1><JoinForm onJoin={onJoin} /></main>
  }
  const s = operator.state
  return (
    <main>
      <h1>Operator mode</h1>
      <p>
        Session <code id="operator-sid">{s.sid}</code> · <span id="operator-link" class={`link link-${s.link}`}>{s.link}</span>
      </p>
      <details>
        <summary>Token (to seat this session in a run, or to reconnect elsewhere)</summary>
        <code id="operator-token">{s.token}</code>
      </details>
      <button type="button" class="danger" onClick={() => void operator.leave().then(onLeave)}>Leave (tear the session down)</button>
      <section aria-labelledby="requests-heading" aria-live="polite">
        <h2 id="requests-heading">Pending requests ({s.requests.length})</h2>
        {s.requests.length === 0 && <p>Nothing to do. Requests appear here as they arrive.</p>}
        {s.requests.map((frame) => (
          <article key={frame.req_id} class="request" data-type={frame.type} aria-label={`${TITLES[frame.type]} ${frame.req_id}`}>
            <h3>{TITLES[frame.type]} <code class="id">{frame.req_id}</code></h3>
            <p class="muted">step <code>{String(frame.task_id)}</code>{frame.run_id ? <> · run <a href={`#/runs/${frame.run_id}`}>{String(frame.run_id)}</a></> : null}</p>
            {frame.type === "ask" && <AskCard frame={frame} operator={operator} />}
            {frame.type === "hook_before" && <HookCard frame={frame} operator={operator} />}
            {frame.type === "spawn" && <SpawnCard frame={frame} operator={operator} />}
          </article>
        ))}
      </section>
      {s.notices.length > 0 && (
        <section aria-labelledby="notices-heading">
          <h2 id="notices-heading">Notices</h2>
          <ul class="events">{s.notices.map((n, i) => <li key={i}>{n}</li>)}</ul>
        </section>
      )}
    </main>
  )
}
