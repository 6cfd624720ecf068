/**
 * The sub-agent side of an operator step, over plain HTTP with its per-step credential
 * (http-api.md, worker endpoints and data path). Each call returns the raw `Reply` so a
 * test can assert statuses and envelopes; nothing here throws on a non-2xx.
 */
import { bearer, jsonBody, request, type Reply, type TestServer } from "../helpers.js"

/** Parse the four lines the operator hands the sub-agent out of a spawn directive. */
export const subAgentPromptOf = (directive: string) => {
  const line = (name: string) => {
    const m = new RegExp(`^${name}: (.+)$`, "m").exec(directive)
    return m === null ? undefined : m[1]!.trim()
  }
  return {
    agent_id: line("agent_id"),
    worker_handle: line("worker_handle"),
    base_url: line("base_url"),
    task_id: line("task_id")
  }
}

const query = (params: Record<string, string | undefined>): string => {
  const entries = Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined)
  return entries.length === 0 ? "" : "?" + new URLSearchParams(entries).toString()
}

/** Headers for a worker credential: a bearer value, or raw header value(s) for the malformed cases. */
export type Auth = { readonly bearer: string } | { readonly header: string } | { readonly none: true }

export const authHeaders = (auth: Auth): Record<string, string> =>
  "bearer" in auth ? bearer(auth.bearer) : "header" in auth ? { authorization: auth.header } : {}

const asAuth = (credential: string | Auth): Auth => (typeof credential === "string" ? { bearer: credential } : credential)

/** `GET /v1/worker/prompt[?task_id=]`. */
export const fetchPrompt = (server: TestServer, credential: string | Auth, taskId?: string): Promise<Reply> =>
  request(server, "GET", `/v1/worker/prompt${query({ task_id: taskId })}`, { headers: authHeaders(asAuth(credential)) })

/** `POST /v1/worker/submit[?verdict=]` with a raw body (text/plain unless told). */
export const submit = (
  server: TestServer,
  credential: string | Auth,
  body: string,
  options: { verdict?: "pass" | "blocked" | "skip"; contentType?: string } = {}
): Promise<Reply> =>
  request(server, "POST", `/v1/worker/submit${query({ verdict: options.verdict })}`, {
    headers: { "content-type": options.contentType ?? "text/plain; charset=utf-8", ...authHeaders(asAuth(credential)) },
    body
  })

/** `POST /v1/worker/result` `{value, ok}`. */
export const postResult = (server: TestServer, credential: string | Auth, value: unknown, ok = true): Promise<Reply> => {
  const b = jsonBody({ value, ok })
  return request(server, "POST", "/v1/worker/result", {
    headers: { ...b.headers, ...authHeaders(asAuth(credential)) },
    body: b.body
  })
}

/** `POST /v1/worker/artifact?name=` with a raw body. */
export const artifact = (server: TestServer, credential: string | Auth, name: string, body: string): Promise<Reply> =>
  request(server, "POST", `/v1/worker/artifact${query({ name })}`, {
    headers: { "content-type": "text/plain; charset=utf-8", ...authHeaders(asAuth(credential)) },
    body
  })

/** `POST /v1/worker/ask` `{question}`: answers only once the operator answers the `ask`. */
export const workerAsk = (server: TestServer, credential: string | Auth, question: unknown): Promise<Reply> => {
  const b = jsonBody({ question })
  return request(server, "POST", "/v1/worker/ask", {
    headers: { ...b.headers, ...authHeaders(asAuth(credential)) },
    body: b.body
  })
}

/** `POST /v1/data/emit?name=` with a raw body; the credential in the header, or as `?token=`. */
export const emit = (
  server: TestServer,
  credential: string | Auth,
  name: string,
  body: string,
  options: { viaQuery?: boolean; contentType?: string } = {}
): Promise<Reply> => {
  const auth = asAuth(credential)
  const viaQuery = options.viaQuery === true && "bearer" in auth
  return request(server, "POST", `/v1/data/emit${query({ name, token: viaQuery ? auth.bearer : undefined })}`, {
    headers: { "content-type": options.contentType ?? "text/plain; charset=utf-8", ...(viaQuery ? {} : authHeaders(auth)) },
    body
  })
}

/** `GET /v1/data/:ref` with a worker credential or an operator token. */
export const getData = (server: TestServer, credential: string | Auth, ref: string): Promise<Reply> =>
  request(server, "GET", `/v1/data/${encodeURIComponent(ref)}`, { headers: authHeaders(asAuth(credential)) })

/** The whole sub-agent job: fetch the prompt with the handle, then submit `result` raw. */
export const doTheWork = async (
  server: TestServer,
  handle: string,
  taskId: string,
  result: string
): Promise<{ prompt: Reply; submitted: Reply }> => {
  const prompt = await fetchPrompt(server, handle, taskId)
  const submitted = await submit(server, handle, result)
  return { prompt, submitted }
}
