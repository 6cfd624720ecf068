/**
 * The API token of a server bound beyond loopback when none is given (`--api-token`, env
 * `SWARMGATE_API_TOKEN`): generated on the first such start and kept in
 * `<data dir>/api-token` (mode 0600), so later starts and the people who were shown it
 * once keep using the same one.
 */
import { randomBytes } from "node:crypto"
import { join } from "node:path"
import { Effect } from "effect"
import { codeOf, explain, prepareDataDir, readOrCreatePrivate, StorageUnavailable } from "./DataDir.js"

export const API_TOKEN_FILE = "api-token"

/** What `--api-token` accepts; a stored token must pass it too. */
export const isUsableApiToken = (token: string): boolean => token.length >= 16 && !/\s/.test(token)

export interface StoredApiToken {
  readonly token: string
  readonly file: string
  /** made by this start: the one time it is shown */
  readonly generated: boolean
}

export const loadOrCreateApiToken = (dir: string): Effect.Effect<StoredApiToken, StorageUnavailable> =>
  Effect.zipRight(
    prepareDataDir(dir),
    Effect.try({
      try: (): StoredApiToken => {
        const file = join(dir, API_TOKEN_FILE)
        const { created, text } = readOrCreatePrivate(file, () => randomBytes(24).toString("base64url"))
        if (!isUsableApiToken(text)) throw Object.assign(new Error(`${file} is damaged`), { code: "EBADTOKEN" })
        return { token: text, file, generated: created }
      },
      catch: (cause) =>
        new StorageUnavailable({
          reason: "api_token",
          message: codeOf(cause) === "EBADTOKEN"
            ? `the stored API token ${join(dir, API_TOKEN_FILE)} is damaged (expected one line of at least 16 ` +
              `characters without spaces): delete it to have a new one made, or pass --api-token`
            : `cannot read or create the API token in ${dir} (${explain(cause)}): pass --api-token or a writable --data-dir`,
          cause
        })
    })
  )
