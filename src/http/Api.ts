/**
 * The schema-first HTTP API. One group per file pair: `<Name>Api.ts` declares the
 * endpoints, `<Name>Http.ts` implements them; add the group here and its Live layer to
 * `ApiGroupsLive` in routes.ts. Raw routes (the operator WebSocket) live beside it.
 */
import { HttpApi } from "@effect/platform"
import { BlueprintsApi } from "./BlueprintsApi.js"
import { DataApi } from "./DataApi.js"
import { HealthApi } from "./HealthApi.js"
import { OperatorsApi } from "./OperatorsApi.js"
import { RunsApi } from "./RunsApi.js"
import { TasksApi } from "./TasksApi.js"
import { WorkerApi } from "./WorkerApi.js"

export class Api extends HttpApi.make("swarmgate")
  .add(HealthApi)
  .add(OperatorsApi)
  .add(BlueprintsApi)
  .add(TasksApi)
  .add(RunsApi)
  .add(WorkerApi)
  .add(DataApi)
{}
