import { useEffect, useState } from "preact/hooks"
import { messageOf } from "./api.js"

/**
 * Calls `load` now and every `everyMs` while mounted; the latest value or error. A hidden
 * tab stops polling (no requests for nobody) and polls at once when it is shown again.
 */
export const usePoll = <A>(load: () => Promise<A>, everyMs: number, deps: ReadonlyArray<unknown> = []) => {
  const [value, setValue] = useState<A | undefined>(undefined)
  const [error, setError] = useState<string | undefined>(undefined)
  useEffect(() => {
    let live = true
    let timer: ReturnType<typeof setTimeout> | undefined
    let inFlight = false
    const tick = async () => {
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      if (inFlight) return
      inFlight = true
      try {
        const v = await load()
        if (live) {
          setValue(v)
          setError(undefined)
        }
      } catch (e) {
        if (live) setError(messageOf(e))
      }
      inFlight = false
      if (live && document.visibilityState !== "hidden") timer = setTimeout(tick, everyMs)
    }
    const onVisible = () => {
      if (document.visibilityState === "visible" && live && timer === undefined) void tick()
    }
    document.addEventListener("visibilitychange", onVisible)
    void tick()
    return () => {
      live = false
      if (timer !== undefined) clearTimeout(timer)
      document.removeEventListener("visibilitychange", onVisible)
    }
  }, deps)
  return { value, error }
}

export const duration = (from?: string, to?: string): string => {
  if (from === undefined) return ""
  const ms = (to === undefined ? Date.now() : Date.parse(to)) - Date.parse(from)
  if (!Number.isFinite(ms) || ms < 0) return ""
  return ms < 1000 ? `${ms} ms` : ms < 60000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`
}

export const time = (iso?: string): string => (iso === undefined ? "" : new Date(iso).toLocaleTimeString())
