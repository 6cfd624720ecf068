import { describe, expect, it } from "@effect/vitest"
import { createHmac } from "node:crypto"
import { Duration, Effect, Layer, Option, TestClock } from "effect"
import { Capabilities, sha256Hex } from "../../src/services/Capabilities.js"
import { EngineConfig } from "../../src/services/EngineConfig.js"
import { CapabilityRepo } from "../../src/services/repos/CapabilityRepo.js"
import { RunId, StepId } from "../../src/protocol/ids.js"

const layer = Capabilities.layer.pipe(
  Layer.provideMerge(CapabilityRepo.memory),
  Layer.provideMerge(EngineConfig.layer({ workerTokenTtl: "30 minutes", tokenRefreshWindow: "5 minutes" }))
)

const STEP = StepId.make("ST-0123456789abcdef")
const RUN = RunId.make("R-0123456789abcdef")

describe("Capabilities", () => {
  it.effect("mints a handle and a token that both verify to the step", () =>
    Effect.gen(function*() {
      const caps = yield* Capabilities
      const cap = yield* caps.mint(STEP, RUN)
      expect(cap.handle).toMatch(/^wh-[a-z0-9]{12}$/)
      expect(cap.token).toMatch(/^[A-Za-z0-9_-]+$/)
      const byHandle = yield* caps.verify(cap.handle)
      const byToken = yield* caps.verify(cap.token)
      expect(byHandle).toMatchObject({ stepId: STEP, runId: RUN, via: "handle" })
      expect(byToken).toMatchObject({ stepId: STEP, runId: RUN, via: "token" })
    }).pipe(Effect.provide(layer)))

  it.effect("stores only digests, never the plaintext", () =>
    Effect.gen(function*() {
      const caps = yield* Capabilities
      const repo = yield* CapabilityRepo
      const cap = yield* caps.mint(STEP, RUN)
      const rec = yield* repo.get(sha256Hex(cap.handle))
      expect(Option.isSome(rec)).toBe(true)
      expect(JSON.stringify(rec)).not.toContain(cap.handle)
      expect(JSON.stringify(rec)).not.toContain(cap.token)
    }).pipe(Effect.provide(layer)))

  it.effect("both expire after the TTL (TestClock)", () =>
    Effect.gen(function*() {
      const caps = yield* Capabilities
      const cap = yield* caps.mint(STEP, RUN)
      yield* TestClock.adjust(Duration.minutes(29))
      yield* caps.verify(cap.token)
      yield* caps.verify(cap.handle)
      yield* TestClock.adjust(Duration.minutes(1))
      expect((yield* Effect.flip(caps.verify(cap.token)))._tag).toBe("CredentialExpired")
      expect((yield* Effect.flip(caps.verify(cap.handle)))._tag).toBe("CredentialExpired")
    }).pipe(Effect.provide(layer)))

  it.effect("a tampered token, a foreign token, junk and an unknown handle are BadCredential", () =>
    Effect.gen(function*() {
      const caps = yield* Capabilities
      const cap = yield* caps.mint(STEP, RUN)
      const raw = Buffer.from(cap.token, "base64url")
      // point the token at another step, keep the signature
      const forged = Buffer.from(raw.toString("latin1").replace(STEP, "ST-fedcba9876543210"), "latin1")
      const flipped = Buffer.from(raw)
      flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 1
      for (const bad of [forged.toString("base64url"), flipped.toString("base64url"), "", "not a token!", "wh-aaaaaaaaaaaa"]) {
        expect((yield* Effect.flip(caps.verify(bad)))._tag).toBe("BadCredential")
      }
      const other = yield* Effect.provide(
        Effect.flatMap(Capabilities, (c) => c.mint(STEP, RUN)),
        Capabilities.layer.pipe(Layer.provide(CapabilityRepo.memory), Layer.provide(EngineConfig.layer()))
      )
      expect((yield* Effect.flip(caps.verify(other.token)))._tag).toBe("BadCredential")
    }).pipe(Effect.provide(layer)))

  it.effect("each refusal says what is wrong; a token with characters the decoder would skip is refused", () =>
    Effect.gen(function*() {
      const caps = yield* Capabilities
      const cap = yield* caps.mint(STEP, RUN)
      const refusal = (credential: string) =>
        Effect.map(Effect.flip(caps.verify(credential)), (e) => ({ tag: e._tag, message: e.message }))
      // the same bytes once decoded, but not the canonical text: never a second spelling of a token
      expect(yield* refusal(`${cap.token}!`)).toEqual({
        tag: "BadCredential",
        message: "the credential is neither a worker handle nor a capability token"
      })
      const flipped = Buffer.from(cap.token, "base64url")
      flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 1
      expect(yield* refusal(flipped.toString("base64url"))).toEqual({
        tag: "BadCredential",
        message: "the capability token's signature does not match"
      })
      expect(yield* refusal("wh-aaaaaaaaaaaa")).toEqual({ tag: "BadCredential", message: "unknown worker handle" })
      yield* TestClock.adjust(Duration.minutes(30))
      expect(yield* refusal(cap.token)).toEqual({ tag: "CredentialExpired", message: "the capability token has expired" })
      expect(yield* refusal(cap.handle)).toEqual({ tag: "CredentialExpired", message: "the worker handle has expired" })
    }).pipe(Effect.provide(layer)))

  it.effect("refresh re-mints only near expiry, and keeps the handle working", () =>
    Effect.gen(function*() {
      const caps = yield* Capabilities
      const cap = yield* caps.mint(STEP, RUN)
      expect(yield* caps.refresh(cap)).toBe(cap)
      yield* TestClock.adjust(Duration.minutes(26))
      const fresh = yield* caps.refresh(cap)
      expect(fresh.token).not.toBe(cap.token)
      expect(fresh.handle).toBe(cap.handle)
      expect(fresh.expiresAt).toBe(cap.expiresAt + Duration.toMillis(Duration.minutes(26)))
      yield* TestClock.adjust(Duration.minutes(10))
      expect((yield* Effect.flip(caps.verify(cap.token)))._tag).toBe("CredentialExpired")
      expect((yield* caps.verify(fresh.token)).stepId).toBe(STEP)
      expect((yield* caps.verify(cap.handle)).stepId).toBe(STEP)
    }).pipe(Effect.provide(layer)))

  it.effect("refresh keeps a credential with exactly the window left and re-mints one millisecond later", () =>
    Effect.gen(function*() {
      const caps = yield* Capabilities
      const cap = yield* caps.mint(STEP, RUN)
      // 30 minutes to live, a 5 minute window: at 25 minutes exactly the window is left, not less
      yield* TestClock.adjust(Duration.minutes(25))
      expect(yield* caps.refresh(cap)).toBe(cap)
      yield* TestClock.adjust(Duration.millis(1))
      const fresh = yield* caps.refresh(cap)
      expect(fresh.token).not.toBe(cap.token)
      expect(fresh.expiresAt).toBe(cap.expiresAt + Duration.toMillis(Duration.minutes(25)) + 1)
    }).pipe(Effect.provide(layer)))

  it.effect("a token minted before seat generations existed (no generation field) verifies with generation 0", () => {
    const secret = new Uint8Array(32).fill(7)
    const withSecret = Capabilities.layer.pipe(
      Layer.provideMerge(CapabilityRepo.memory),
      Layer.provideMerge(EngineConfig.layer({ workerTokenTtl: "30 minutes", secret }))
    )
    // the payload of that format: v1, step, run, expiry, nonce; signed like every token
    const legacy = (expiresAt: number) => {
      const payload = Buffer.from(`v1\n${STEP}\n${RUN}\n${expiresAt}\n0123456789abcdef01234567`)
      return Buffer.concat([payload, createHmac("sha256", secret).update(payload).digest()]).toString("base64url")
    }
    return Effect.gen(function*() {
      const caps = yield* Capabilities
      const expiresAt = Duration.toMillis(Duration.minutes(30))
      expect(yield* caps.verify(legacy(expiresAt))).toEqual({ stepId: STEP, runId: RUN, expiresAt, via: "token", generation: 0 })
      // and one minted now carries its generation
      const cap = yield* caps.mint(STEP, RUN, 3)
      expect((yield* caps.verify(cap.token)).generation).toBe(3)
    }).pipe(Effect.provide(withSecret))
  })
})
