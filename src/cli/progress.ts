/**
 * The live progress display of `swarmgate run` on stderr: steps with status and attempt,
 * the requests waiting for an operator, elapsed time. On a terminal it is redrawn in place
 * (and once a second for the clock); otherwise every change is one plain line.
 */
import { Clock, Effect, type Scope } from "effect"
import type { RunEvent } from "../client/events.js"

interface StepLine {
  readonly ref: string
  attempt: number
  status: string
}

export interface Progress {
  readonly event: (e: RunEvent) => Effect.Effect<void>
  readonly note: (line: string) => Effect.Effect<void>
  /** Runs `effect` (a question at the terminal) with the redrawing paused, then draws afresh below it. */
  readonly interlude: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

const mark: Record<string, string> = {
  passed: "✓",
  failed: "✗",
  blocked: "✗",
  cancelled: "✗",
  skipped: "-",
  running: "…",
  waiting_for_operator: "…"
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`

export const makeProgress = (
  runId: string,
  options: { readonly tty: boolean; readonly write?: (text: string) => void }
): Effect.Effect<Progress, never, Scope.Scope> =>
  Effect.gen(function*() {
    const write = options.write ?? ((text: string) => void process.stderr.write(text))
    const started = yield* Clock.currentTimeMillis
    const steps = new Map<string, StepLine>()
    const waiting = new Map<string, string>()
    const notes: Array<string> = []
    let status = "running"
    let drawn = 0
    let paused = 0

    const draw = Effect.gen(function*() {
      if (paused > 0) return
      const elapsed = (yield* Clock.currentTimeMillis) - started
      const width = Math.max(40, process.stderr.columns ?? 100)
      const lines = [`run ${runId}  ${status}  ${seconds(elapsed)}`]
      for (const s of steps.values()) {
        lines.push(`  ${mark[s.status] ?? " "} ${s.ref.padEnd(16)} #${s.attempt}  ${s.status}`)
      }
      for (const w of waiting.values()) lines.push(`  waiting: ${w}`)
      for (const n of notes.slice(-3)) lines.push(`  ${n}`)
      const text = lines.map((l) => (l.length > width - 1 ? l.slice(0, width - 2) + "…" : l)).join("\n") + "\n"
      write((drawn > 0 ? `\x1b[${drawn}A\x1b[0J` : "") + text)
      drawn = lines.length
    })

    const plain = (line: string) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => write(`[${seconds(now - started)}] ${line}\n`)))

    const apply = (e: RunEvent): string | undefined => {
      const ref = e.ref ?? "?"
      switch (e.type) {
        case "run_started":
          return `run ${runId} started${e.message === undefined ? "" : ` (${e.message})`}`
        case "step_started":
        case "step_status":
        case "step_finished": {
          if (e.step_id === undefined) return undefined
          const line = steps.get(e.step_id) ?? { ref, attempt: e.attempt ?? 1, status: "running" }
          line.attempt = e.attempt ?? line.attempt
          line.status = e.status ?? line.status
          steps.set(e.step_id, line)
          if (e.type === "step_finished") {
            for (const [key] of waiting) if (key.startsWith(`${e.step_id}/`)) waiting.delete(key)
          }
          return `step ${ref} #${line.attempt} ${line.status}`
        }
        case "request_sent": {
          waiting.set(`${e.step_id}/${e.req_id ?? e.kind}`, `${e.kind ?? "request"} for ${ref}`)
          return `request ${e.kind ?? ""} for ${ref} sent to the operator`
        }
        case "request_answered": {
          waiting.delete(`${e.step_id}/${e.req_id ?? e.kind}`)
          return `request ${e.kind ?? ""} for ${ref} answered${e.status === "error" ? ` with an error: ${e.message}` : ""}`
        }
        case "run_finished":
          status = e.status ?? "finished"
          waiting.clear()
          return `run ${runId} ${status}`
        case "run_interrupted":
          status = "interrupted"
          return `run ${runId} interrupted (the server stopped); resume it with \`swarmgate resume ${runId}\``
        default:
          return undefined
      }
    }

    if (options.tty) {
      yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sleep("1 second"), draw)))
      yield* Effect.addFinalizer(() => draw)
      yield* draw
    }
    return {
      event: (e) => {
        const line = apply(e)
        if (options.tty) return draw
        return line === undefined ? Effect.void : plain(line)
      },
      interlude: (effect) =>
        options.tty
          ? Effect.acquireUseRelease(
            Effect.sync(() => {
              paused++
            }),
            () => effect,
            () =>
              Effect.suspend(() => {
                paused--
                drawn = 0 // the question and its answer stay on screen; draw below them
                return draw
              })
          )
          : effect,
      note: (line) => {
        if (!options.tty) return plain(line)
        notes.push(line)
        return draw
      }
    }
  })
