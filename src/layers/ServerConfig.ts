/**
 * Server settings (docs/commands.md `serve`, docs/http.md limits, keepalive and idle timings in docs/operators.md) and the
 * resolved public base URL the engine writes into directives.
 */
import { HttpServer } from "@effect/platform"
import { Context, Duration, Effect, Layer } from "effect"
import { homedir } from "node:os"
import { join } from "node:path"
import type { SessionDeadlines } from "../services/OperatorSession.js"

export interface BodyLimits {
  /** JSON request bodies. */
  readonly jsonBody: number
  /** Worker submit / artifact and data emit bodies. */
  readonly workerBody: number
  /** One WebSocket frame; larger closes the socket with 1009. */
  readonly frame: number
  /** Bytes an operator socket may hold unsent before the writer waits; past it for long, close 1008. */
  readonly outboundBuffer: number
}

export interface ServerConfigShape {
  readonly host: string
  /** 0 picks a free port. */
  readonly port: number
  /** `--public-url`; when absent the bound address is used. */
  readonly publicUrl: string | undefined
  readonly limits: BodyLimits
  /** A socket whose send buffer stays over `limits.outboundBuffer` this long is closed 1008. */
  readonly outboundStall: Duration.Duration
  /** `--api-token`: needed on blueprint, task and run routes when set (always set beyond loopback). */
  readonly apiToken: string | undefined
  /** `--allow-host`: more names the `Host` header may carry (DNS rebinding guard). */
  readonly allowHosts: ReadonlyArray<string>
  /** `--allow-origin`: more origins a browser request may come from (CORS headers for these). */
  readonly allowOrigins: ReadonlyArray<string>
  readonly keepalive: {
    readonly pingEvery: Duration.Duration
    readonly silentAfter: Duration.Duration
  }
  readonly idle: {
    readonly horizon: Duration.Duration
    readonly sweepEvery: Duration.Duration
  }
  /** `ask_timeout` / `hook_timeout` / `spawn_timeout` (docs/operators.md, Sessions, sockets and reconnecting); absent = wait for a reply. */
  readonly deadlines: SessionDeadlines
  /** Keep everything in memory (no SQLite). */
  readonly memory: boolean
  readonly dataDir: string
  /** Serve `/v1/worker/*` through the lean path (LeanWorker.ts); undefined: env `SWARMGATE_LEAN_WORKER`, else on. */
  readonly leanWorker: boolean | undefined
}

export interface ServerConfigInput {
  readonly host?: string
  readonly port?: number
  readonly publicUrl?: string | undefined
  readonly limits?: Partial<BodyLimits>
  readonly outboundStall?: Duration.DurationInput
  readonly apiToken?: string | undefined
  readonly allowHosts?: ReadonlyArray<string>
  readonly allowOrigins?: ReadonlyArray<string>
  readonly keepalive?: { readonly pingEvery?: Duration.DurationInput; readonly silentAfter?: Duration.DurationInput }
  readonly idle?: { readonly horizon?: Duration.DurationInput; readonly sweepEvery?: Duration.DurationInput }
  readonly deadlines?: SessionDeadlines
  readonly memory?: boolean
  readonly dataDir?: string
  readonly leanWorker?: boolean
}

const MiB = 1024 * 1024

export const defaultDataDir = (): string => process.env.SWARMGATE_DATA_DIR ?? join(homedir(), ".swarmgate")

export const makeServerConfig = (input: ServerConfigInput = {}): ServerConfigShape => ({
  host: input.host ?? "127.0.0.1",
  port: input.port ?? 7777,
  publicUrl: input.publicUrl,
  limits: {
    jsonBody: input.limits?.jsonBody ?? MiB,
    workerBody: input.limits?.workerBody ?? 16 * MiB,
    frame: input.limits?.frame ?? MiB,
    outboundBuffer: input.limits?.outboundBuffer ?? 8 * MiB
  },
  outboundStall: Duration.decode(input.outboundStall ?? "5 seconds"),
  apiToken: input.apiToken === undefined || input.apiToken === "" ? undefined : input.apiToken,
  allowHosts: input.allowHosts ?? [],
  allowOrigins: input.allowOrigins ?? [],
  keepalive: {
    pingEvery: Duration.decode(input.keepalive?.pingEvery ?? "30 seconds"),
    silentAfter: Duration.decode(input.keepalive?.silentAfter ?? "150 seconds")
  },
  idle: {
    horizon: Duration.decode(input.idle?.horizon ?? "24 hours"),
    sweepEvery: Duration.decode(input.idle?.sweepEvery ?? "5 minutes")
  },
  deadlines: input.deadlines ?? {},
  memory: input.memory ?? false,
  dataDir: input.dataDir ?? defaultDataDir(),
  leanWorker: input.leanWorker
})

export class ServerConfig extends Context.Tag("swarmgate/ServerConfig")<ServerConfig, ServerConfigShape>() {
  static readonly layer = (input: ServerConfigInput = {}): Layer.Layer<ServerConfig> =>
    Layer.sync(ServerConfig, () => makeServerConfig(input))
}

/** Loopback hosts: binding anything else exposes the server (docs/security.md). */
export const isLoopbackHost = (host: string): boolean =>
  host === "localhost" || host === "::1" || host === "[::1]" || /^127(\.\d{1,3}){3}$/.test(host)

const hostForUrl = (host: string): string => (host.includes(":") && !host.startsWith("[") ? `[${host}]` : host)

/** `--public-url` without a trailing slash, else `http://<bound host>:<bound port>`. */
export const resolvePublicUrl = (config: ServerConfigShape, address: HttpServer.Address): string => {
  if (config.publicUrl !== undefined) return config.publicUrl.replace(/\/+$/, "")
  if (address._tag === "UnixAddress") return `http://localhost`
  // a wildcard bind is reachable on loopback; the real outside name is unknowable here
  const host = address.hostname === "0.0.0.0" || address.hostname === "::" ? "127.0.0.1" : address.hostname
  return `http://${hostForUrl(host)}:${address.port}`
}

/** The base URL of this server as others reach it, known once the listener is bound. */
export class PublicUrl extends Context.Tag("swarmgate/PublicUrl")<PublicUrl, string>() {
  static readonly layer: Layer.Layer<PublicUrl, never, ServerConfig | HttpServer.HttpServer> = Layer.effect(
    PublicUrl,
    Effect.gen(function*() {
      const config = yield* ServerConfig
      const server = yield* HttpServer.HttpServer
      return resolvePublicUrl(config, server.address)
    })
  )
}
