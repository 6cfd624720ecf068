/**
 * The schema-first HTTP API. One group per file pair: `<Name>Api.ts` declares the
 * endpoints, `<Name>Http.ts` implements them; add the group here and its Live layer to
 * `ApiGroupsLive` in routes.ts. Raw routes (the operator WebSocket) live beside it.
 */
import { HttpApi, OpenApi } from "@effect/platform"
import { BlueprintsApi } from "./BlueprintsApi.js"
import { DataApi } from "./DataApi.js"
import { HealthApi } from "./HealthApi.js"
import { OperatorsApi } from "./OperatorsApi.js"
import { ReferenceApi, withRawRoutes } from "./ReferenceApi.js"
import { RunsApi } from "./RunsApi.js"
import { TasksApi } from "./TasksApi.js"
import { WorkerApi } from "./WorkerApi.js"
import { version } from "../version.js"

export class Api extends HttpApi.make("swarmgate")
  .add(HealthApi)
  .add(OperatorsApi)
  .add(BlueprintsApi)
  .add(TasksApi)
  .add(RunsApi)
  .add(WorkerApi)
  .add(DataApi)
  .add(ReferenceApi)
  .annotateContext(OpenApi.annotations({
    title: "swarmgate",
    version,
    description: "Drives multi-agent workflows (blueprints) and hands each agent step to an operator. " +
      "Every error is `{\"error\": {\"code\", \"message\", \"details\"?}}`; docs/http.md in the repository " +
      "explains the routes, credentials and error codes.",
    license: { name: "MIT" },
    transform: withRawRoutes
  }))
{}
