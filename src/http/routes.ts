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
import { AuthLive } from "./auth.js"
import { OPERATOR_WS_PATH, OperatorSocketLive } from "./OperatorSocket.js"
import { OperatorsLive } from "./OperatorsHttp.js"
import { RunsLive } from "./RunsHttp.js"
import { TasksLive } from "./TasksHttp.js"
import { WorkerLive } from "./WorkerHttp.js"

export const ApiGroupsLive = Layer.mergeAll(
  HealthLive,
  OperatorsLive,
  BlueprintsLive,
  TasksLive,
  RunsLive,
  WorkerLive,
  DataLive
).pipe(Layer.provide(AuthLive))

export const ApiRoutesLive = HttpLayerRouter.addHttpApi(Api).pipe(Layer.provide(ApiGroupsLive))

/** Raw (non-HttpApi) routes, for the 404/405 decision. */
export const rawRoutes: ReadonlyArray<KnownRoute> = [{ method: "GET", path: OPERATOR_WS_PATH }]

export const RoutesLive = Layer.mergeAll(
  ApiRoutesLive,
  OperatorSocketLive,
  ErrorEnvelopeLive([...routesOfApi(Api), ...rawRoutes])
)
