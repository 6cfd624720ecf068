/**
 * Records in the `doc` column: JSON encoded and decoded with the record's Schema. A row
 * that does not decode is skipped with a warning naming it, so one damaged row cannot stop
 * the server from booting.
 */
import { Effect, Either, Option, ParseResult, Schema } from "effect"

export interface DocumentCodec<A> {
  readonly encode: (record: A) => string
  /** `where`: what names the row in the warning, e.g. `steps ST-…`. */
  readonly decode: (where: string, doc: unknown) => Effect.Effect<Option.Option<A>>
  /** Decoded rows; undecodable ones skipped with a warning. */
  readonly decodeAll: <R>(rows: ReadonlyArray<R>, where: (row: R) => string, doc: (row: R) => unknown) => Effect.Effect<ReadonlyArray<A>>
}

export const documentCodec = <A, I>(schema: Schema.Schema<A, I>): DocumentCodec<A> => {
  const json = Schema.parseJson(schema)
  const encodeEither = Schema.encodeEither(json)
  const decodeEither = Schema.decodeUnknownEither(json)
  const decodeOne = (doc: unknown) => Option.getRight(decodeEither(doc))
  const warn = (where: string, doc: unknown) =>
    Effect.logWarning(
      `skipping stored row ${where}: it does not decode (${
        Either.match(decodeEither(doc), { onLeft: ParseResult.TreeFormatter.formatErrorSync, onRight: () => "?" })
          .split("\n").slice(-1)[0]?.trim()
      })`
    )
  return {
    encode: (record) =>
      Either.getOrElse(encodeEither(record), (e) => {
        // the engine handed over a record its own Schema refuses: a bug, not bad input
        throw new Error(`cannot store a record that does not match its schema: ${ParseResult.TreeFormatter.formatErrorSync(e)}`)
      }),
    decode: (where, doc) => {
      const out = decodeOne(doc)
      return Option.isSome(out) ? Effect.succeed(out) : Effect.as(warn(where, doc), out)
    },
    decodeAll: (rows, where, doc) =>
      Effect.suspend(() => {
        const out: Array<A> = []
        const bad: Array<Effect.Effect<void>> = []
        for (const row of rows) {
          const one = decodeOne(doc(row))
          if (Option.isSome(one)) out.push(one.value)
          else bad.push(warn(where(row), doc(row)))
        }
        return bad.length === 0 ? Effect.succeed(out) : Effect.as(Effect.all(bad, { discard: true }), out)
      })
  }
}
