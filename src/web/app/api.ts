/**
 * The console's only way to the server: the public HTTP API (same origin). Errors come
 * back as the API's envelope; `ApiFailure` carries its code and message to show.
 */
export class ApiFailure extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message)
  }
}

/** An API token for servers bound beyond loopback (run routes need it there). */
export const apiToken = (): string | null => localStorage.getItem("swarmgate.apiToken")

export const setApiToken = (token: string) => {
  if (token.trim() === "") localStorage.removeItem("swarmgate.apiToken")
  else localStorage.setItem("swarmgate.apiToken", token.trim())
}

/**
 * Follows a `text/event-stream` with fetch rather than EventSource, so the API token can
 * travel in the Authorization header (EventSource cannot set headers). Ends when the
 * server ends the stream or `signal` aborts; throws when it cannot start or breaks.
 */
export const followEvents = async (
  path: string,
  onData: (data: string) => void,
  signal: AbortSignal,
  /** The last `seq` seen: the server replays only later events. */
  lastEventId = 0
): Promise<void> => {
  const token = apiToken()
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {}
  if (lastEventId > 0) headers["last-event-id"] = String(lastEventId)
  const response = await fetch(path, { headers, signal })
  if (!response.ok || response.body === null) throw new ApiFailure(response.status, "http_" + response.status, await response.text())
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ""
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    buffer += value
    let end: number
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n")
      if (data !== "") onData(data)
    }
  }
}

export const call = async <A = any>(
  method: string,
  path: string,
  options: { body?: unknown; raw?: string; bearer?: string } = {}
): Promise<A> => {
  const headers: Record<string, string> = {}
  const api = apiToken()
  const token = options.bearer ?? api
  if (token) headers["authorization"] = `Bearer ${token}`
  // Authorization carries a session's token here: the API token goes beside it
  if (options.bearer !== undefined && api) headers["x-api-token"] = api
  let body: string | undefined
  if (options.body !== undefined) {
    headers["content-type"] = "application/json"
    body = JSON.stringify(options.body)
  } else if (options.raw !== undefined) {
    headers["content-type"] = "text/plain; charset=utf-8"
    body = options.raw
  }
  const response = await fetch(path, { method, headers, ...(body === undefined ? {} : { body }) })
  const text = await response.text()
  let json: any = undefined
  try {
    json = text === "" ? undefined : JSON.parse(text)
  } catch {
    json = undefined
  }
  if (!response.ok) {
    const error = json?.error
    throw new ApiFailure(response.status, error?.code ?? "http_" + response.status, error?.message ?? text.slice(0, 200))
  }
  return json as A
}

export const messageOf = (e: unknown): string =>
  e instanceof ApiFailure ? `${e.message} (${e.code})` : e instanceof Error ? e.message : String(e)

export interface Status {
  running_runs: number
  sessions: number
  connected_sessions: number
  pending_requests: number
  uptime_secs: number
  storage: string
}

export interface Seat {
  sid: string
  generation: number
}

export interface Step {
  step_id: string
  ref: string
  attempt: number
  /** The step node's location in the blueprint; absent from servers that predate it. */
  location?: string
  status: string
  started_at: string
  finished_at?: string
  value?: unknown
  error?: unknown
}

export interface Run {
  run_id: string
  task_id: string
  status: string
  created_at: string
  finished_at?: string
  input?: unknown
  result?: unknown
  error?: { message: string; failed_step?: string }
  seats: Record<string, Seat | null>
  steps?: Array<Step>
}

export interface OperatorInfo {
  sid: string
  desc?: string
  connected: boolean
  joined_at: string
  last_access: string
  pending: number
}
