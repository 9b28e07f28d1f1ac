/**
 * dynalite (a DynamoDB implementation on LevelDB, in memory) in this process, for demos and tests of
 * the DynamoDB checkpointer. It lacks UpdateTimeToLive and transactions.
 *
 * @since 0.1.0
 */
import dynaliteServer from "dynalite"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as net from "./internal/net.js"
import type { LocalEndpoint } from "./LocalKinesis.js"
import type { LocalServerError } from "./LocalServerError.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface DynaliteOptions {
  readonly port?: number | undefined
  /** Time a table stays CREATING / DELETING / UPDATING. Default 0 ms. */
  readonly createTableMs?: number | undefined
  readonly deleteTableMs?: number | undefined
  readonly updateTableMs?: number | undefined
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const dynalite = (options: DynaliteOptions = {}): Effect.Effect<LocalEndpoint, LocalServerError, Scope.Scope> =>
  Effect.map(
    net.listenScoped(
      "dynalite",
      () =>
        dynaliteServer({
          createTableMs: options.createTableMs ?? 0,
          deleteTableMs: options.deleteTableMs ?? 0,
          updateTableMs: options.updateTableMs ?? 0
        }),
      options.port ?? 0
    ),
    ({ port }) => ({
      endpoint: `http://127.0.0.1:${port}`,
      port,
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" }
    })
  )
