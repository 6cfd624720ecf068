/** Transactions on SQLite: the client's own transaction (the connection is held until commit). */
import { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { Transactions } from "../../services/repos/Transactions.js"

export const TransactionsSqlite: Layer.Layer<Transactions, never, SqlClient.SqlClient> = Layer.effect(
  Transactions,
  Effect.map(SqlClient.SqlClient, (sql) => ({
    // BEGIN/COMMIT failing is a storage failure like any other write's: a defect (orDie)
    atomically: <A, E, R>(self: Effect.Effect<A, E, R>) =>
      sql.withTransaction(self).pipe(
        Effect.catchAll((e) =>
          typeof e === "object" && e !== null && (e as { _tag?: unknown })._tag === "SqlError"
            ? Effect.die(e)
            : Effect.fail(e as E)
        )
      )
  }))
)
