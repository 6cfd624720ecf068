/**
 * EventRepo on SQLite. An event RunEvents numbered is stored with its `seq`; one without
 * gets the next of its run inside the insert, so it counts from 1 per run without gaps.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { EventRepo, type EventRepoShape, type RunEvent } from "../../services/repos/EventRepo.js"
import { documentCodec } from "./documents.js"
import { RunEvent as RunEventSchema } from "../../protocol/records.js"

const codec = documentCodec(RunEventSchema)

interface Row {
  readonly run_id: string
  readonly seq: number
  readonly doc: string
}

const where = (r: Row) => `run_events ${r.run_id} #${r.seq}`

export const EventRepoSqlite: Layer.Layer<EventRepo, never, SqlClient.SqlClient> = Layer.effect(
  EventRepo,
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const repo: EventRepoShape = {
      append: (event) =>
        Effect.suspend(() => {
          if (typeof (event as { seq?: unknown }).seq === "number") {
            const numbered = event as RunEvent
            return sql`INSERT INTO run_events (run_id, seq, doc) VALUES (${numbered.run_id}, ${numbered.seq}, ${
              codec.encode(numbered)
            })`.pipe(Effect.orDie, Effect.as(numbered))
          }
          // encoded with a placeholder seq; the statement writes the real one into the doc too
          const doc = codec.encode({ ...event, seq: 1 } as RunEvent)
          return sql<{ readonly seq: number }>`INSERT INTO run_events (run_id, seq, doc)
              SELECT ${event.run_id}, s, json_set(${doc}, '$.seq', s)
              FROM (SELECT coalesce(max(seq), 0) + 1 AS s FROM run_events WHERE run_id = ${event.run_id})
              RETURNING seq`.pipe(
            Effect.orDie,
            Effect.map((rows): RunEvent => ({ ...event, seq: rows[0]!.seq }))
          )
        }),
      list: (runId, afterSeq) =>
        sql<Row>`SELECT run_id, seq, doc FROM run_events WHERE run_id = ${runId} AND seq > ${afterSeq ?? 0} ORDER BY seq`.pipe(
          Effect.orDie,
          Effect.flatMap((rows) => codec.decodeAll(rows, where, (r) => r.doc))
        ),
      lastSeq: (runId) =>
        sql<{ readonly s: number }>`SELECT coalesce(max(seq), 0) AS s FROM run_events WHERE run_id = ${runId}`.pipe(
          Effect.orDie,
          Effect.map((rows) => rows[0]?.s ?? 0)
        )
    }
    return repo
  })
)
