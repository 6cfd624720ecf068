/**
 * "Did you mean": the known route closest to an unknown path, for the 404 message. A
 * route's `:param` segments take the caller's own segments (aligned from the end), so
 * `/v1/run/R-1` is compared with `/v1/runs/R-1` and suggested in that form.
 */
import { distance } from "fastest-levenshtein"

export interface RouteShape {
  readonly method: string
  readonly path: string
}

export interface Suggestion {
  /** The route's path with the caller's segments in its parameters. */
  readonly path: string
  /** Methods that path accepts. */
  readonly methods: ReadonlyArray<string>
}

const fill = (routePath: string, requestSegments: ReadonlyArray<string>): string => {
  const segments = routePath.split("/")
  const offset = requestSegments.length - segments.length
  return segments.map((segment, i) => {
    const mine = requestSegments[i + offset]
    return segment.startsWith(":") && mine !== undefined && mine !== "" ? mine : segment
  }).join("/")
}

/** Close enough to be a typo, not a different route: at most 3 edits, and a third of the shorter path. */
const closeEnough = (d: number, a: string, b: string) => d <= 3 && d * 3 <= Math.min(a.length, b.length)

export const nearestRoute = (routes: ReadonlyArray<RouteShape>, path: string): Suggestion | undefined => {
  const requestSegments = path.split("/")
  let best: { readonly path: string; readonly distance: number } | undefined
  for (const route of routes) {
    const candidate = fill(route.path, requestSegments)
    if (candidate === path) continue
    // a path without the /v1 prefix is one edit, however short it is
    const d = `/v1${path}` === candidate ? 1 : distance(path, candidate)
    if ((d === 1 || closeEnough(d, path, candidate)) && (best === undefined || d < best.distance)) {
      best = { path: candidate, distance: d }
    }
  }
  if (best === undefined) return undefined
  const chosen = best.path
  const methods = routes.filter((r) => fill(r.path, requestSegments) === chosen).map((r) => r.method)
  return { path: chosen, methods: [...new Set(methods)] }
}

/** The sentence appended to the 404 message. */
export const didYouMean = (routes: ReadonlyArray<RouteShape>, method: string, path: string): string => {
  const near = nearestRoute(routes, path)
  if (near === undefined) return ""
  const how = near.methods.includes(method) ? "" : `${near.methods.join("/")} `
  return ` Did you mean ${how}${near.path}?`
}
