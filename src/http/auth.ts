/**
 * Bearer credentials (docs/http.md: `Authorization: Bearer <value>`). Parsing only;
 * comparing is the owner's job (Sessions compares digests in constant time).
 */
import { Effect, Schema } from "effect"
import { Unauthorized } from "./errors.js"

/** For endpoints' `.setHeaders(...)`: the header is optional so its absence is a 401, not a 400. */
export const AuthHeaders = Schema.Struct({
  authorization: Schema.optionalWith(Schema.String, { exact: true })
})

const bearer = /^Bearer[ \t]+([^\s]+)[ \t]*$/i

/** The bearer value, or 401 `missing_credential` / `malformed_credential`. */
export const bearerToken = (authorization: string | undefined): Effect.Effect<string, Unauthorized> => {
  if (authorization === undefined || authorization.trim() === "") {
    return Effect.fail(
      new Unauthorized({
        code: "missing_credential",
        message: "this route needs a credential; send Authorization: Bearer <token>"
      })
    )
  }
  const match = bearer.exec(authorization)
  if (match === null) {
    return Effect.fail(
      new Unauthorized({
        code: "malformed_credential",
        message: "the Authorization header must be exactly: Bearer <token>"
      })
    )
  }
  return Effect.succeed(match[1]!)
}
