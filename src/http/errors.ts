/**
 * API-edge errors and the error envelope (docs/http.md): every error body is
 * `{"error": {"code", "message", "details"?}}`. One `Schema.TaggedError` per status;
 * handlers fail with them, endpoints declare them through `ApiErrors.<Name>`, whose
 * encoded form is the envelope (so HttpApi writes the envelope, not `{_tag, ...}`).
 */
import { HttpApiSchema, HttpServerResponse } from "@effect/platform"
import { Schema } from "effect"

const fields = {
  code: Schema.String,
  message: Schema.String,
  details: Schema.optionalWith(Schema.Unknown, { exact: true })
}

export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", fields) {}
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", fields) {}
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", fields) {}
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", fields) {}
export class MethodNotAllowed extends Schema.TaggedError<MethodNotAllowed>()("MethodNotAllowed", fields) {}
export class Conflict extends Schema.TaggedError<Conflict>()("Conflict", fields) {}
export class Gone extends Schema.TaggedError<Gone>()("Gone", fields) {}
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", fields) {}
export class UnsupportedMediaType
  extends Schema.TaggedError<UnsupportedMediaType>()("UnsupportedMediaType", fields)
{}
export class Unprocessable extends Schema.TaggedError<Unprocessable>()("Unprocessable", fields) {}
export class UpgradeRequired extends Schema.TaggedError<UpgradeRequired>()("UpgradeRequired", fields) {}
export class InternalError extends Schema.TaggedError<InternalError>()("InternalError", fields) {}
export class GatewayTimeout extends Schema.TaggedError<GatewayTimeout>()("GatewayTimeout", fields) {}

export type ApiError =
  | BadRequest
  | Unauthorized
  | Forbidden
  | NotFound
  | MethodNotAllowed
  | Conflict
  | Gone
  | PayloadTooLarge
  | UnsupportedMediaType
  | Unprocessable
  | UpgradeRequired
  | InternalError
  | GatewayTimeout

export const statusOf: { readonly [K in ApiError["_tag"]]: number } = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  MethodNotAllowed: 405,
  Conflict: 409,
  Gone: 410,
  PayloadTooLarge: 413,
  UnsupportedMediaType: 415,
  Unprocessable: 422,
  UpgradeRequired: 426,
  InternalError: 500,
  GatewayTimeout: 504
}

export const isApiError = (u: unknown): u is ApiError =>
  typeof u === "object" && u !== null && "_tag" in u && typeof u._tag === "string" && u._tag in statusOf &&
  "code" in u && "message" in u

/** One problem in `error.details`: the same shape on every route. */
export const Problem = Schema.Struct({ path: Schema.String, message: Schema.String })

/** The wire shape of every error. */
export const Envelope = Schema.Struct({
  error: Schema.Struct({
    code: Schema.String,
    message: Schema.String,
    details: Schema.optionalWith(Schema.Unknown, { exact: true }),
    /** Problems left out of `details` (at most `DETAILS_MAX` are listed). */
    more: Schema.optionalWith(Schema.Int, { exact: true })
  })
})
export type Envelope = typeof Envelope.Type

/** An error body never grows with the input: 50 problems, quotes cut. */
export const DETAILS_MAX = 50
const MESSAGE_MAX = 2000
const DETAIL_TEXT_MAX = 300

const cutText = (s: string, max: number) => (s.length > max ? `${s.slice(0, max)}…` : s)

/** `{path, message}` problems, at most `DETAILS_MAX`, each cut; anything else is left as it is. */
export const capDetails = (details: unknown): { readonly details: unknown; readonly more?: number } => {
  if (!Array.isArray(details)) return { details }
  const listed = details.slice(0, DETAILS_MAX).map((d: unknown) => {
    if (typeof d !== "object" || d === null) return { path: "", message: cutText(String(d), DETAIL_TEXT_MAX) }
    const p = (d as { path?: unknown }).path
    const m = (d as { message?: unknown }).message
    return {
      path: cutText(typeof p === "string" ? p : "", DETAIL_TEXT_MAX),
      message: cutText(typeof m === "string" ? m : JSON.stringify(d) ?? "", DETAIL_TEXT_MAX)
    }
  })
  return details.length > DETAILS_MAX ? { details: listed, more: details.length - DETAILS_MAX } : { details: listed }
}

export const toEnvelope = (e: { readonly code: string; readonly message: string; readonly details?: unknown }) => {
  const message = cutText(e.message, MESSAGE_MAX)
  if (e.details === undefined) return { error: { code: e.code, message } } satisfies Envelope
  const capped = capDetails(e.details)
  return {
    error: capped.more === undefined
      ? { code: e.code, message, details: capped.details }
      : { code: e.code, message, details: capped.details, more: capped.more }
  } satisfies Envelope
}

type ErrorClass<A extends ApiError> = Schema.Schema<A, any, never> & {
  new(props: { code: string; message: string; details?: unknown }): A
}

// Encodes the class as the envelope with its status; decoding (HttpApiClient) rebuilds the class.
const envelopeOf = <A extends ApiError>(cls: ErrorClass<A>, status: number) =>
  Schema.transform(Envelope, Schema.typeSchema(cls), {
    strict: false,
    decode: (body) => new cls(body.error),
    encode: (error) => toEnvelope(error)
  }).annotations(HttpApiSchema.annotations({ status }))

/** What endpoints pass to `.addError(...)`. */
export const ApiErrors = {
  BadRequest: envelopeOf(BadRequest, 400),
  Unauthorized: envelopeOf(Unauthorized, 401),
  Forbidden: envelopeOf(Forbidden, 403),
  NotFound: envelopeOf(NotFound, 404),
  Conflict: envelopeOf(Conflict, 409),
  Gone: envelopeOf(Gone, 410),
  PayloadTooLarge: envelopeOf(PayloadTooLarge, 413),
  UnsupportedMediaType: envelopeOf(UnsupportedMediaType, 415),
  Unprocessable: envelopeOf(Unprocessable, 422),
  InternalError: envelopeOf(InternalError, 500),
  GatewayTimeout: envelopeOf(GatewayTimeout, 504)
} as const

/** An envelope response outside HttpApi (router middleware, the WebSocket route). */
export const envelopeResponse = (
  status: number,
  code: string,
  message: string,
  options?: { readonly details?: unknown; readonly headers?: Record<string, string> }
): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(
    toEnvelope(options?.details === undefined ? { code, message } : { code, message, details: options.details }),
    { status, ...(options?.headers === undefined ? {} : { headers: options.headers }) }
  )

export const apiErrorResponse = (error: ApiError): HttpServerResponse.HttpServerResponse =>
  envelopeResponse(statusOf[error._tag], error.code, error.message, error.details === undefined ? undefined : {
    details: error.details
  })
