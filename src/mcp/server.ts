/**
 * `swarmgate mcp`: the MCP adapter on stdio, on the official SDK. The low-level `Server` is
 * used (not `McpServer`) because the tool input schemas are our own JSON Schemas generated
 * from effect/Schema, and the handlers run Effects on the command's runtime.
 */
import type { HttpClient } from "@effect/platform"
import { Server } from "@modelcontextprotocol/sdk/server/index.js"
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js"
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema
} from "@modelcontextprotocol/sdk/types.js"
import { Cause, Deferred, type Duration, Effect, Exit, Option, Runtime, type Scope } from "effect"
import { version } from "../http/HealthHttp.js"
import { ToolError } from "./errors.js"
import { decodeInput, inputJsonSchema, inputs, type ToolName } from "./inputs.js"
import { makeOperators } from "./Operators.js"
import { GUIDE_URI, resources } from "./resources.js"
import { makeTools, type Tool, type ToolContext } from "./tools.js"

const text = (value: unknown) => JSON.stringify(value, null, 2)

const failed = (message: string): CallToolResult => ({ content: [{ type: "text", text: message }], isError: true })

export interface AdapterOptions {
  readonly server: string
  readonly joinTimeout: Duration.DurationInput
}

/** Serves MCP on stdin/stdout until stdin ends; leaves every joined session on the way out. */
export const runAdapter = (
  options: AdapterOptions
): Effect.Effect<void, never, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const ops = yield* makeOperators({ server: options.server, joinTimeout: options.joinTimeout })
    const tools = makeTools(ops)
    const runtime = yield* Effect.runtime<HttpClient.HttpClient>()
    const names = Object.keys(inputs) as Array<ToolName>

    const mcp = new Server(
      { name: "swarmgate", version },
      {
        capabilities: { tools: {}, resources: {} },
        instructions: `Operate swarmgate workflows: read the resource ${GUIDE_URI} for the loop ` +
          "(operator_join, run_start, pending_wait, sub-agent, ack, operator_leave)."
      }
    )

    mcp.setRequestHandler(ListToolsRequestSchema, () => ({
      tools: names.map((name) => ({ name, description: tools[name].description, inputSchema: inputJsonSchema(name) }))
    }))

    mcp.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
      const name = request.params.name as ToolName
      if (!names.includes(name)) {
        throw new McpError(ErrorCode.InvalidParams, `unknown tool ${request.params.name}: use one of ${names.join(", ")}`)
      }
      const decoded = decodeInput(name, request.params.arguments)
      if (decoded._tag === "Left") return failed(`invalid arguments for ${name}: ${decoded.left}`)
      const tool = tools[name] as Tool<ToolName>
      const ctx: ToolContext = { signal: extra.signal }
      const exit = await Runtime.runPromiseExit(runtime)(tool.handler(decoded.right as never, ctx))
      if (Exit.isSuccess(exit)) {
        return { content: [{ type: "text", text: text(exit.value) }], structuredContent: exit.value }
      }
      const failure = Cause.failureOption(exit.cause)
      if (Option.isSome(failure) && failure.value instanceof ToolError) return failed(failure.value.message)
      return failed(`internal error in ${name}: ${Cause.pretty(exit.cause).split("\n")[0]}`)
    })

    mcp.setRequestHandler(ListResourcesRequestSchema, () => ({
      resources: resources.map(({ text: _, ...r }) => r)
    }))

    mcp.setRequestHandler(ReadResourceRequestSchema, (request) => {
      const found = resources.find((r) => r.uri === request.params.uri)
      if (found === undefined) {
        throw new McpError(
          ErrorCode.InvalidParams,
          `unknown resource ${request.params.uri}: use one of ${resources.map((r) => r.uri).join(", ")}`
        )
      }
      return { contents: [{ uri: found.uri, mimeType: found.mimeType, text: found.text() }] }
    })

    const done = yield* Deferred.make<void>()
    const finish = () => Deferred.unsafeDone(done, Exit.void)
    process.stdin.once("end", finish)
    process.stdin.once("close", finish)
    mcp.onclose = finish
    yield* Effect.promise(() => mcp.connect(new StdioServerTransport()))
    yield* Effect.addFinalizer(() => Effect.promise(() => mcp.close()).pipe(Effect.ignore))
    yield* Deferred.await(done)
  })
