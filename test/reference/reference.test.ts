/**
 * The reference routes: every route the server registers is in the OpenAPI document (and
 * every documented route answers), `/docs` renders offline, the blueprint JSON Schema
 * accepts the shipped examples, and an unknown route suggests the nearest real one.
 */
import { HttpLayerRouter } from "@effect/platform"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Ajv } from "ajv"
import { Effect, Either, Layer, Logger, LogLevel, ManagedRuntime } from "effect"
import { AppLive } from "../../src/layers/App.js"
import { RoutesLive } from "../../src/http/routes.js"
import { validateBlueprint } from "../../src/services/flow/validate.js"
import { version } from "../../src/version.js"
import { envelopeCode, request, startServer, type TestServer } from "../e2e/helpers.js"
import { blueprintExamples } from "./examples.js"

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(() => server.close())

const openapi = async () => (await request(server, "GET", "/v1/openapi.json")).json as {
  openapi: string
  info: { version: string; description?: string }
  paths: Record<string, Record<string, { summary?: string; description?: string }>>
}

/** `/v1/runs/:id` → `/v1/runs/{id}`, as OpenAPI writes parameters. */
const openApiPath = (path: string) => path.replace(/:(\w+)/g, "{$1}")

/**
 * What routes.ts registers, seen by a router that records every route added to it. The
 * route layers are built over a running app's services, so whatever routes.ts wires in,
 * this sees, without restating the wiring.
 */
const registeredRoutes = async () => {
  const seen: Array<{ method: string; path: string }> = []
  const recording = Layer.effect(
    HttpLayerRouter.HttpRouter,
    Effect.map(HttpLayerRouter.make, (router) =>
      HttpLayerRouter.HttpRouter.of({
        ...router,
        add: (method, path, handler, options) => {
          seen.push({ method, path })
          return router.add(method, path, handler, options)
        },
        addAll: (routes) => {
          for (const route of routes) seen.push({ method: route.method, path: route.path })
          return router.addAll(routes)
        }
      }))
  )
  const app = ManagedRuntime.make(
    AppLive({ host: "127.0.0.1", port: 0, memory: true }).pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.Warning)))
  )
  try {
    // the route layer's type carries the router's request markers, which only `serve` removes
    const build = Layer.build(RoutesLive.pipe(Layer.provide(recording))) as unknown as Effect.Effect<
      unknown,
      never,
      Layer.Layer.Success<ReturnType<typeof AppLive>>
    >
    await app.runPromise(Effect.scoped(build))
  } finally {
    await app.dispose()
  }
  return seen
}

describe("GET /v1/openapi.json", () => {
  it("lists every route the server registers, with its method", async () => {
    const doc = await openapi()
    const routes = await registeredRoutes()
    expect(routes.length).toBeGreaterThan(25)
    const missing = routes.filter((r) => doc.paths[openApiPath(r.path)]?.[r.method.toLowerCase()] === undefined)
    expect(missing).toEqual([])
  })

  it("shows a run view step's location and a task view's blueprint", async () => {
    const doc = await openapi() as any
    const ok = (path: string) => doc.paths[path].get.responses["200"].content["application/json"].schema
    const step = ok("/v1/runs/{id}").properties.steps.items
    expect(step.required).toContain("location")
    expect(step.properties.location).toMatchObject({ type: "string" })
    expect(ok("/v1/tasks/{id}").required).toContain("blueprint")
  })

  it("documents no route the server does not answer", async () => {
    const doc = await openapi()
    for (const [path, operations] of Object.entries(doc.paths)) {
      const concrete = path.replace(/\{\w+\}/g, "x")
      for (const method of Object.keys(operations)) {
        const reply = await request(server, method.toUpperCase(), concrete)
        const routeMissing = reply.status === 405 ||
          (reply.status === 404 && envelopeCode(reply) === "not_found" && /no route/.test(reply.json.error.message))
        expect({ method, path, routeMissing }).toEqual({ method, path, routeMissing: false })
      }
    }
  })

  it("is OpenAPI 3.1 with this version and a summary on every operation", async () => {
    const doc = await openapi()
    expect(doc.openapi).toBe("3.1.0")
    expect(doc.info.version).toBe(version)
    const bare = Object.entries(doc.paths).flatMap(([path, operations]) =>
      Object.entries(operations).filter(([, op]) => !op.summary).map(([method]) => `${method} ${path}`)
    )
    expect(bare).toEqual([])
  })
})

describe("GET /docs", () => {
  it("serves the reference page with everything inline: no script, style or font from elsewhere", async () => {
    const reply = await request(server, "GET", "/docs")
    expect(reply.status).toBe(200)
    expect(reply.headers.get("content-type")).toMatch(/^text\/html/)
    expect(reply.text).toContain("/v1/schema/blueprint.json")
    expect(reply.text).not.toMatch(/<script[^>]+src=/)
    expect(reply.text).not.toMatch(/<link[^>]+href=["']?https?:/)
    expect(reply.text).toContain("\"withDefaultFonts\":false")
  })
})

describe("GET /v1/schema/blueprint.json", () => {
  const schema = async () => {
    const reply = await request(server, "GET", "/v1/schema/blueprint.json")
    expect(reply.status).toBe(200)
    return new Ajv({ allErrors: true }).compile(reply.json)
  }

  it("accepts every blueprint example of the repository", async () => {
    const validate = await schema()
    const examples = blueprintExamples()
    expect(examples.length).toBeGreaterThanOrEqual(4)
    for (const example of examples) {
      const ok = validate(example.blueprint)
      expect({ where: example.where, errors: ok ? null : validate.errors }).toEqual({ where: example.where, errors: null })
    }
  })

  it("and the server accepts them too (the schema is only the shape; these are whole, valid blueprints)", () => {
    for (const example of blueprintExamples()) {
      const problems = Either.match(validateBlueprint(example.blueprint), { onLeft: (p) => p, onRight: () => [] })
      expect({ where: example.where, problems }).toEqual({ where: example.where, problems: [] })
    }
  })

  it("refuses what the server refuses: unknown fields, kinds and ops", async () => {
    const validate = await schema()
    const good = blueprintExamples()[0]!.blueprint as Record<string, unknown>
    expect(validate({ ...good, colour: "red" })).toBe(false)
    expect(validate({ ...good, flow: { kind: "parallel", children: [] } })).toBe(false)
    expect(validate({ ...good, flow: { kind: "assign", at: "$.x", value: { op: "concat", args: [] } } })).toBe(false)
    expect(validate({ agents: [{ name: "x", kind: "builtin", fn: "nope" }], flow: { kind: "seq", children: [] } }))
      .toBe(false)
  })
})

describe("unknown routes", () => {
  it("answer 404 in the envelope, naming the nearest real route", async () => {
    const reply = await request(server, "GET", "/v1/health")
    expect(reply.status).toBe(404)
    expect(envelopeCode(reply)).toBe("not_found")
    expect(reply.json.error.message).toContain("Did you mean /v1/healthz?")

    const typo = await request(server, "POST", "/v1/runs/R-0123456789abcdef/cancell")
    expect(typo.json.error.message).toContain("Did you mean /v1/runs/R-0123456789abcdef/cancel?")
  })

  it("point at the reference without guessing when nothing is close", async () => {
    const reply = await request(server, "GET", "/wp-admin/setup.php")
    expect(reply.status).toBe(404)
    expect(reply.json.error.message).not.toContain("Did you mean")
    expect(reply.json.error.message).toContain("/docs")
  })
})
