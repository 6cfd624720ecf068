/**
 * The data directory: created with mode 0700, checked writable before SQLite opens a file
 * in it, and home of the server secret (file mode 0600) so capability tokens and worker
 * handles stay valid across a restart.
 */
import { randomBytes } from "node:crypto"
import { accessSync, chmodSync, closeSync, constants, mkdirSync, openSync, readFileSync, statSync, writeSync } from "node:fs"
import { join } from "node:path"
import { Data, Effect } from "effect"

/** Anything that stops the storage from opening; `serve` prints the message as one line and exits 1. */
export class StorageUnavailable extends Data.TaggedError("StorageUnavailable")<{
  readonly reason: "data_dir" | "secret" | "api_token" | "newer_schema" | "open" | "migration"
  readonly message: string
  readonly cause?: unknown
}> {}

const SECRET_FILE = "secret"
const SECRET_BYTES = 32

export const codeOf = (e: unknown): string =>
  typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : String(e)

export const explain = (e: unknown): string => {
  const code = codeOf(e)
  switch (code) {
    case "EEXIST":
    case "ENOTDIR":
      return `${code}: a path component is not a directory`
    case "EACCES":
    case "EPERM":
      return `${code}: permission denied`
    case "EROFS":
      return `${code}: read-only file system`
    default:
      return code
  }
}

/** mkdir -p with mode 0700 for what it creates, then a writability check (no stack trace either way). */
export const prepareDataDir = (dir: string): Effect.Effect<void, StorageUnavailable> =>
  Effect.try({
    try: () => {
      mkdirSync(dir, { recursive: true, mode: 0o700 })
      if (!statSync(dir).isDirectory()) throw Object.assign(new Error("not a directory"), { code: "ENOTDIR" })
      accessSync(dir, constants.W_OK | constants.R_OK | constants.X_OK)
    },
    catch: (cause) =>
      new StorageUnavailable({
        reason: "data_dir",
        message: `cannot use the data directory ${dir} (${explain(cause)}): ` +
          `pass a writable --data-dir, set SWARMGATE_DATA_DIR, or use --memory`,
        cause
      })
  })

/**
 * The database file, created empty with mode 0600 when missing (SQLite gives its -wal and
 * -shm files the same mode), so nothing else on the machine can read session digests.
 */
export const ensurePrivateFile = (file: string): Effect.Effect<void, StorageUnavailable> =>
  Effect.try({
    try: () => closeSync(openSync(file, "a", 0o600)),
    catch: (cause) =>
      new StorageUnavailable({
        reason: "data_dir",
        message: `cannot create ${file} (${explain(cause)}): pass a writable --data-dir or use --memory`,
        cause
      })
  })

/**
 * `file`'s trimmed text, or `make()`'s, written there first with mode 0600. The create is
 * exclusive: two servers starting at once cannot write two different values.
 */
export const readOrCreatePrivate = (file: string, make: () => string): { readonly text: string; readonly created: boolean } => {
  let fd: number
  try {
    fd = openSync(file, "wx", 0o600)
  } catch (e) {
    if (codeOf(e) !== "EEXIST") throw e
    return { text: readFileSync(file, "utf8").trim(), created: false }
  }
  const text = make()
  try {
    writeSync(fd, text + "\n")
  } finally {
    closeSync(fd)
  }
  chmodSync(file, 0o600)
  return { text, created: true }
}

/** The HMAC key of capability tokens: read from `<dir>/secret`, or created there (0600) on first start. */
export const loadSecret = (dir: string): Effect.Effect<Uint8Array, StorageUnavailable> =>
  Effect.try({
    try: () => {
      const file = join(dir, SECRET_FILE)
      const { text } = readOrCreatePrivate(file, () => randomBytes(SECRET_BYTES).toString("hex"))
      if (!/^[0-9a-f]{64}$/.test(text)) {
        throw Object.assign(new Error(`${file} is not 64 hex characters`), { code: "EBADSECRET" })
      }
      return new Uint8Array(Buffer.from(text, "hex"))
    },
    catch: (cause) =>
      new StorageUnavailable({
        reason: "secret",
        message: codeOf(cause) === "EBADSECRET"
          ? `the server secret ${join(dir, SECRET_FILE)} is damaged (expected 64 hex characters): ` +
            `delete it to make a new one (worker credentials issued before then stop working)`
          : `cannot read or create the server secret in ${dir} (${explain(cause)}): pass a writable --data-dir or use --memory`,
        cause
      })
  })
