/** "Did you mean" for unknown routes: typos get the nearest route, unrelated paths get nothing. */
import { describe, expect, it } from "@effect/vitest"
import { didYouMean, nearestRoute } from "../../src/http/nearestRoute.js"

const routes = [
  { method: "GET", path: "/v1/healthz" },
  { method: "GET", path: "/v1/status" },
  { method: "POST", path: "/v1/operators" },
  { method: "GET", path: "/v1/operators" },
  { method: "GET", path: "/v1/runs/:id" },
  { method: "POST", path: "/v1/runs/:id/cancel" },
  { method: "GET", path: "/docs" }
]

describe("nearestRoute", () => {
  it("suggests the route one typo away", () => {
    expect(nearestRoute(routes, "/v1/health")).toEqual({ path: "/v1/healthz", methods: ["GET"] })
    expect(nearestRoute(routes, "/v1/operator")).toEqual({ path: "/v1/operators", methods: ["POST", "GET"] })
    expect(nearestRoute(routes, "/doc")?.path).toBe("/docs")
  })

  it("keeps the caller's ids in parameter segments", () => {
    expect(nearestRoute(routes, "/v1/runs/R-0123456789abcdef/cancell")?.path).toBe("/v1/runs/R-0123456789abcdef/cancel")
    expect(nearestRoute(routes, "/v1/run/R-0123456789abcdef")?.path).toBe("/v1/runs/R-0123456789abcdef")
  })

  it("adds a forgotten /v1 prefix", () => {
    expect(nearestRoute(routes, "/healthz")?.path).toBe("/v1/healthz")
    expect(nearestRoute(routes, "/status")?.path).toBe("/v1/status")
  })

  it("suggests nothing for a path that is not a typo of a route", () => {
    expect(nearestRoute(routes, "/")).toBeUndefined()
    expect(nearestRoute(routes, "/wp-admin/index.php")).toBeUndefined()
    expect(nearestRoute(routes, "/v1/xyz")).toBeUndefined()
    expect(didYouMean(routes, "GET", "/favicon.ico")).toBe("")
  })

  it("names the method when the suggested route does not take the caller's", () => {
    expect(didYouMean(routes, "GET", "/v1/health")).toBe(" Did you mean /v1/healthz?")
    expect(didYouMean(routes, "GET", "/v1/runs/R-1/cancl")).toBe(" Did you mean POST /v1/runs/R-1/cancel?")
  })
})
