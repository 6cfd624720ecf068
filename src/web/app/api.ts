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
const apiToken = (): string | null => localStorage.getItem("swarmgate.apiToken")

export const call = async <A = any>(
  method: string,
  path: string,
  options: { body?: unknown; raw?: string; bearer?: string } = {}
): Promise<A> => {
  const headers: Record<string, string> = {}
  const token = options.bearer ?? apiToken()
  if (token) headers["authorization"] = `Bearer ${token}`
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
