/** What an operator's credential check can fail with (`Sessions.authenticate`). */
import { Data } from "effect"

/** 404: no live session has this sid (never existed, torn down, or expired). */
export class UnknownSession extends Data.TaggedError("UnknownSession")<{
  readonly sid: string
  readonly message: string
}> {}

/** 401: the sid is live but the token is not its token. */
export class BadCredential extends Data.TaggedError("BadCredential")<{
  readonly message: string
}> {}
