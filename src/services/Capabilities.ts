/**
 * Worker credentials bound to exactly one step (docs/http.md, worker endpoints).
 *
 * - capability token: base64url of `payload ‖ HMAC-SHA256(secret, payload)`, payload =
 *   `v1\n<step>\n<run>\n<expiry millis>\n<nonce>[\n<seat generation>]`; self-verifying, so it
 *   survives a restart as long as the secret does.
 * - worker handle: `wh-` + 12 chars; only its SHA-256 digest is stored, with the binding.
 *
 * Expiry is read from Effect's Clock.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto"
import { Clock, Context, Duration, Effect, Layer, Option } from "effect"
import { isRunId, isStepId, newWorkerHandle, type RunId, type StepId } from "../protocol/ids.js"
import { BadCredential, CredentialExpired } from "./EngineErrors.js"
import { EngineConfig } from "./EngineConfig.js"
import { CapabilityRepo } from "./repos/CapabilityRepo.js"

export interface Capability {
  readonly stepId: StepId
  readonly runId: RunId
  readonly handle: string
  readonly token: string
  /** Clock millis. */
  readonly expiresAt: number
  /** The seat generation the spawn went to; a take-over makes older credentials `superseded`. */
  readonly generation: number
}

export interface StepBinding {
  readonly stepId: StepId
  readonly runId: RunId
  readonly expiresAt: number
  readonly via: "handle" | "token"
  /** Seat generation it was minted for (0: none recorded). */
  readonly generation: number
}

export interface CapabilitiesShape {
  readonly mint: (stepId: StepId, runId: RunId, generation?: number) => Effect.Effect<Capability>
  /** A fresh token (and a moved handle expiry) when less than the refresh window is left; else `cap`. */
  readonly refresh: (cap: Capability) => Effect.Effect<Capability>
  readonly verify: (credential: string) => Effect.Effect<StepBinding, BadCredential | CredentialExpired>
}

export const sha256Hex = (s: string | Uint8Array): string => createHash("sha256").update(s).digest("hex")

const SIG_BYTES = 32
const bad = (message: string) => new BadCredential({ message })

export class Capabilities extends Context.Tag("swarmgate/Capabilities")<Capabilities, CapabilitiesShape>() {
  static readonly layer: Layer.Layer<Capabilities, never, EngineConfig | CapabilityRepo> = Layer.effect(
    Capabilities,
    Effect.gen(function*() {
      const config = yield* EngineConfig
      const repo = yield* CapabilityRepo
      const ttl = Duration.toMillis(config.workerTokenTtl)
      const window = Duration.toMillis(config.tokenRefreshWindow)

      const sign = (payload: Buffer) => createHmac("sha256", config.secret).update(payload).digest()

      const makeToken = (stepId: StepId, runId: RunId, expiresAt: number, generation: number) => {
        const payload = Buffer.from(
          `v1\n${stepId}\n${runId}\n${expiresAt}\n${randomBytes(12).toString("hex")}\n${generation}`
        )
        return Buffer.concat([payload, sign(payload)]).toString("base64url")
      }

      const issue = (stepId: StepId, runId: RunId, handle: string, generation: number) =>
        Effect.gen(function*() {
          const expiresAt = (yield* Clock.currentTimeMillis) + ttl
          yield* repo.put({
            digest: sha256Hex(handle),
            kind: "handle",
            step_id: stepId,
            run_id: runId,
            expires_at: expiresAt,
            generation
          })
          return { stepId, runId, handle, token: makeToken(stepId, runId, expiresAt, generation), expiresAt, generation }
        })

      const verifyToken = (credential: string, now: number): Effect.Effect<StepBinding, BadCredential | CredentialExpired> => {
        const raw = Buffer.from(credential, "base64url")
        // Buffer's decoder skips junk characters; re-encoding catches anything that is not canonical base64url
        if (
          // Stryker disable next-line EqualityOperator: with `<`, a token of exactly SIG_BYTES fails the signature check instead, also BadCredential
          raw.length <= SIG_BYTES ||
          raw.toString("base64url") !== credential
        ) {
          return Effect.fail(bad("the credential is neither a worker handle nor a capability token"))
        }
        const payload = raw.subarray(0, raw.length - SIG_BYTES)
        if (!timingSafeEqual(raw.subarray(raw.length - SIG_BYTES), sign(payload))) {
          return Effect.fail(bad("the capability token's signature does not match"))
        }
        const [version, stepId, runId, exp, _nonce, gen] = payload.toString("utf8").split("\n")
        const expiresAt = Number(exp)
        // tokens minted before generations were recorded have none: 0
        const generation = gen === undefined ? 0 : Number(gen)
        // Unreachable, kept as defence: only a payload this server signed gets here (its HMAC
        // matched above), and it signs only well-formed ones. Hence the Stryker marks.
        if (
          // Stryker disable next-line ConditionalExpression,LogicalOperator: unreachable (above)
          version !== "v1" || stepId === undefined || !isStepId(stepId) ||
          // Stryker disable next-line ConditionalExpression: unreachable (above)
          runId === undefined || !isRunId(runId) || !Number.isSafeInteger(expiresAt) ||
          // Stryker disable next-line ConditionalExpression: unreachable (above)
          !Number.isSafeInteger(generation)
        )
          // Stryker disable next-line StringLiteral: unreachable (above)
          return Effect.fail(bad("the capability token is malformed"))
        if (now >= expiresAt) return Effect.fail(new CredentialExpired({ message: "the capability token has expired" }))
        return Effect.succeed({ stepId, runId, expiresAt, via: "token", generation })
      }

      const verifyHandle = (credential: string, now: number) =>
        repo.get(sha256Hex(credential)).pipe(Effect.flatMap(Option.match({
          onNone: (): Effect.Effect<StepBinding, BadCredential | CredentialExpired> =>
            Effect.fail(bad("unknown worker handle")),
          onSome: (rec): Effect.Effect<StepBinding, BadCredential | CredentialExpired> =>
            now >= rec.expires_at
              ? Effect.fail(new CredentialExpired({ message: "the worker handle has expired" }))
              : Effect.succeed({
                stepId: rec.step_id,
                runId: rec.run_id,
                expiresAt: rec.expires_at,
                via: "handle",
                generation: rec.generation ?? 0
              })
        })))

      return {
        mint: (stepId, runId, generation = 0) => issue(stepId, runId, newWorkerHandle(), generation),
        refresh: (cap) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            cap.expiresAt - now >= window ? Effect.succeed(cap) : issue(cap.stepId, cap.runId, cap.handle, cap.generation)),
        verify: (credential) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            credential.startsWith("wh-") ? verifyHandle(credential, now) : verifyToken(credential, now))
      }
    })
  )
}
