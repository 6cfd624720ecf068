/**
 * A real server (loopback, ephemeral port) with extra layers under it (a capturing logger,
 * an OTel SDK), and one full operator step driven from outside, as in scenario 1.
 */
import { HttpServer } from "@effect/platform"
import { Effect, Layer, ManagedRuntime } from "effect"
import { AppLive } from "../../src/layers/App.js"
import { Sessions } from "../../src/services/Sessions.js"
import { request, type TestServer } from "../e2e/helpers.js"
import { awaitRun, launch, oneStepBlueprint, ScriptedOperator } from "../e2e/scenarios/operator-client.js"
import { fetchPrompt, submit } from "../e2e/scenarios/sub-agent.js"
import { jsonBody } from "../e2e/helpers.js"

export const startWith = async (under: Layer.Layer<never>, wrap = <A>(e: Layer.Layer<A>) => e): Promise<TestServer> => {
  const layer = wrap(AppLive({ host: "127.0.0.1", port: 0, memory: true }).pipe(Layer.provide(under)) as never)
  const runtime = ManagedRuntime.make(layer as Layer.Layer<HttpServer.HttpServer | Sessions>)
  const { port, sessions } = await runtime.runPromise(Effect.gen(function*() {
    const server = yield* HttpServer.HttpServer
    const port = server.address._tag === "TcpAddress" ? server.address.port : 0
    return { port, sessions: yield* Sessions }
  }))
  return {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    port,
    sessions,
    run: (effect) => Effect.runPromise(effect),
    close: () => runtime.dispose()
  }
}

/** Everything secret or private that went over the wire during the step. */
export interface StepSecrets {
  readonly sessionToken: string
  readonly workerHandle: string
  readonly capabilityToken: string
  readonly submittedBody: string
  readonly runId: string
  readonly sid: string
  readonly spawnReqId: string
}

/** hook_before → spawn → prompt → submit → spawn_ack → run done. */
export const oneOperatorStep = async (server: TestServer, id: string): Promise<StepSecrets> => {
  const op = await ScriptedOperator.login(server, { desc: "observe" })
  const put = await request(server, "PUT", `/v1/blueprints/${id}`, jsonBody(oneStepBlueprint({ id, mainAi: true })))
  if (put.status !== 200) throw new Error(put.text)
  const launched = await launch(server, { blueprint: id, input: { request: "say hi" }, operator_sid: op.sid })
  const before = await op.waitType("hook_before")
  op.hookAck(before.req_id, true)
  const spawn = await op.waitType("spawn")
  const prompt = await fetchPrompt(server, spawn.worker_handle, spawn.task_id)
  if (prompt.status !== 200) throw new Error(prompt.text)
  const submittedBody = "{\"greeting\": \"the-secret-submitted-body-4711\"}"
  const submitted = await submit(server, spawn.worker_handle, submittedBody)
  if (submitted.status !== 200) throw new Error(submitted.text)
  op.spawnAck(spawn.req_id, { ok: true })
  const run = await awaitRun(server, launched.run_id)
  if (run.status !== "done") throw new Error(JSON.stringify(run))
  await op.close()
  return {
    sessionToken: op.token,
    workerHandle: spawn.worker_handle,
    capabilityToken: spawn.capability_token,
    submittedBody,
    runId: launched.run_id,
    sid: op.sid,
    spawnReqId: spawn.req_id
  }
}
