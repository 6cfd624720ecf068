/**
 * The browser as an operator: one session (sid + token, kept in localStorage so a reload
 * or a dropped socket keeps it), one WebSocket authenticated by the subprotocol list
 * `swarmgate.v1, bearer.<token>` (a browser cannot set Authorization), reconnecting with
 * backoff. Requests are kept by `req_id`, so a redelivery after a reconnect is not doubled.
 */
import { call } from "./api.js"

export interface Frame {
  type: string
  req_id: string
  [key: string]: unknown
}

export type Link = "connecting" | "connected" | "disconnected" | "torn_down"

export interface OperatorState {
  sid: string
  token: string
  link: Link
  /** Requests this session owes a reply to, oldest first. */
  requests: ReadonlyArray<Frame>
  /** Recent notices (hook_after, cancel, error frames), newest first. */
  notices: ReadonlyArray<string>
}

const STORE = "swarmgate.operator"

export class Operator {
  private socket: WebSocket | undefined
  private retry = 0
  private stopped = false
  private listeners = new Set<() => void>()
  state: OperatorState

  constructor(sid: string, token: string) {
    this.state = { sid, token, link: "connecting", requests: [], notices: [] }
  }

  static stored(): Operator | undefined {
    try {
      const { sid, token } = JSON.parse(localStorage.getItem(STORE) ?? "null") ?? {}
      return typeof sid === "string" && typeof token === "string" ? new Operator(sid, token) : undefined
    } catch {
      return undefined
    }
  }

  static async join(desc: string): Promise<Operator> {
    const { sid, token } = await call<{ sid: string; token: string }>("POST", "/v1/operators", {
      body: desc.trim() === "" ? {} : { desc }
    })
    return new Operator(sid, token)
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private set(patch: Partial<OperatorState>) {
    this.state = { ...this.state, ...patch }
    for (const l of this.listeners) l()
  }

  private notice(text: string) {
    this.set({ notices: [`${new Date().toLocaleTimeString()} ${text}`, ...this.state.notices].slice(0, 50) })
  }

  start() {
    localStorage.setItem(STORE, JSON.stringify({ sid: this.state.sid, token: this.state.token }))
    this.stopped = false
    this.open()
  }

  private open() {
    if (this.stopped) return
    const scheme = location.protocol === "https:" ? "wss:" : "ws:"
    const socket = new WebSocket(`${scheme}//${location.host}/v1/operators/${this.state.sid}/ws`, [
      "swarmgate.v1",
      `bearer.${this.state.token}`
    ])
    this.socket = socket
    this.set({ link: "connecting" })
    socket.onopen = () => {
      this.retry = 0
      this.set({ link: "connected" })
    }
    socket.onmessage = (event) => {
      if (typeof event.data !== "string") return
      let frame: Frame
      try {
        frame = JSON.parse(event.data)
      } catch {
        return
      }
      this.receive(frame)
    }
    socket.onclose = (event) => {
      if (this.socket !== socket) return
      this.socket = undefined
      if (event.code === 1000 && /torn down/.test(event.reason)) {
        this.set({ link: "torn_down", requests: [] })
        this.stopped = true
        return
      }
      if (event.code === 4000) return // replaced by a newer connection (another tab)
      this.set({ link: "disconnected" })
      void this.reconnect()
    }
  }

  /** A failed upgrade carries no status to the page; ask the API whether the session still exists. */
  private async reconnect() {
    const delay = Math.min(5000, 250 * 2 ** this.retry++)
    await new Promise((resolve) => setTimeout(resolve, delay))
    if (this.stopped) return
    try {
      await call("GET", `/v1/operators/${this.state.sid}`, { bearer: this.state.token })
    } catch (e: any) {
      if (e?.status === 404 || e?.status === 401) {
        this.notice(`the session is gone (${e.message}); join again`)
        this.set({ link: "torn_down", requests: [] })
        this.stopped = true
        localStorage.removeItem(STORE)
        return
      }
    }
    this.open()
  }

  private receive(frame: Frame) {
    switch (frame.type) {
      case "ask":
      case "hook_before":
      case "spawn": {
        const others = this.state.requests.filter((r) => r.req_id !== frame.req_id)
        const known = others.length !== this.state.requests.length
        this.set({ requests: known ? this.state.requests.map((r) => (r.req_id === frame.req_id ? frame : r)) : [...others, frame] })
        break
      }
      case "cancel":
        this.drop(String(frame.req_id))
        this.notice(`request ${frame.req_id} was withdrawn: ${frame.reason}`)
        break
      case "hook_after":
        this.notice(`step ${frame.task_id} (${frame.agent}, attempt ${frame.attempt}) finished`)
        break
      case "error":
        this.notice(`the server refused a reply: ${frame.message} (${frame.code})`)
        break
    }
  }

  private drop(reqId: string) {
    this.set({ requests: this.state.requests.filter((r) => r.req_id !== reqId) })
  }

  /** Sends a reply; false when no socket is open (the request stays and is redelivered). */
  reply(frame: Frame): boolean {
    const socket = this.socket
    if (socket === undefined || socket.readyState !== WebSocket.OPEN) {
      this.notice("not connected: the reply was not sent; it will be asked again after the reconnect")
      return false
    }
    socket.send(JSON.stringify(frame))
    this.drop(String(frame.req_id))
    return true
  }

  /** Closes the socket; the session lives on (and could be resumed by sid + token). */
  stop() {
    this.stopped = true
    const socket = this.socket
    this.socket = undefined
    socket?.close(1000, "console closed")
  }

  async leave() {
    this.stop()
    localStorage.removeItem(STORE)
    await call("DELETE", `/v1/operators/${this.state.sid}`, { bearer: this.state.token }).catch(() => undefined)
  }
}
