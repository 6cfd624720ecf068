/**
 * The schema-first HTTP API. One group per file pair: `<Name>Api.ts` declares the
 * endpoints, `<Name>Http.ts` implements them; add the group here and its Live layer to
 * `ApiGroupsLive` in routes.ts. Raw routes (the operator WebSocket) live beside it.
 */
import { HttpApi } from "@effect/platform"
import { HealthApi } from "./HealthApi.js"
import { OperatorsApi } from "./OperatorsApi.js"

export class Api extends HttpApi.make("swarmgate")
  .add(HealthApi)
  .add(OperatorsApi)
{}
