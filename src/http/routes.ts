/**
 * Every route of the server: the HttpApi groups, the raw operator WebSocket route, and
 * the router-wide error envelope. A new group: declare it in Api.ts, implement it in
 * `<Name>Http.ts`, add its Live layer to `ApiGroupsLive`.
 */
import { HttpLayerRouter } from "@effect/platform"
import { Layer } from "effect"
import { Api } from "./Api.js"
import { BlueprintsLive } from "./BlueprintsHttp.js"
import { DataLive } from "./DataHttp.js"
import { ErrorEnvelopeLive, type KnownRoute, routesOfApi } from "./ErrorMiddleware.js"
import { HealthLive } from "./HealthHttp.js"
import { MetricsLive } from "./MetricsHttp.js"
import { AuthLive } from "./auth.js"
import { OPERATOR_WS_PATH, OperatorSocketLive } from "./OperatorSocket.js"
import { OperatorsLive } from "./OperatorsHttp.js"
import { DOCS_PATH } from "./ReferenceApi.js"
import { DocsPageLive, ReferenceLive } from "./ReferenceHttp.js"
import { RunsLive } from "./RunsHttp.js"
import { TasksLive } from "./TasksHttp.js"
import { WorkerLive } from "./WorkerHttp.js"
import { CONSOLE_ASSETS_PATH, CONSOLE_PATH, WebConsoleLive } from "./WebConsole.js"

export const ApiGroupsLive = Layer.mergeAll(
  HealthLive,
  OperatorsLive,
  BlueprintsLive,
  TasksLive,
  RunsLive,
  WorkerLive,
  DataLive,
  MetricsLive
).pipe(Layer.provide(AuthLive))

export const ApiRoutesLive = HttpLayerRouter.addHttpApi(Api).pipe(
  Layer.provide(Layer.merge(ApiGroupsLive, ReferenceLive))
)

/** Raw (non-HttpApi) routes, for the 404/405 decision. */
export const rawRoutes: ReadonlyArray<KnownRoute> = [
  { method: "GET", path: OPERATOR_WS_PATH },
  { method: "GET", path: DOCS_PATH },
  { method: "GET", path: CONSOLE_PATH },
  { method: "GET", path: CONSOLE_ASSETS_PATH }
]

/** Every route the server answers (the 404/405 decision, the route label of the HTTP metrics). */
export const knownRoutes: ReadonlyArray<KnownRoute> = [...routesOfApi(Api), ...rawRoutes]

export const RoutesLive = Layer.mergeAll(
  ApiRoutesLive,
  OperatorSocketLive,
  DocsPageLive,
  WebConsoleLive,
  ErrorEnvelopeLive(knownRoutes)
)
