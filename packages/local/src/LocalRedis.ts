/**
 * A private `redis-server` child process on 127.0.0.1, without persistence, for demos and tests.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as net from "./internal/net.js"
import { LocalServerError } from "./LocalServerError.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface RedisServer {
  /** `redis://127.0.0.1:PORT` */
  readonly url: string
  readonly host: string
  readonly port: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface RedisServerOptions {
  readonly port?: number | undefined
  /** Default `redis-server` on the PATH. */
  readonly binary?: string | undefined
  readonly startTimeout?: Duration.DurationInput | undefined
}

/**
 * Starts `redis-server` (fails with a `LocalServerError` naming the Debian package if the binary is
 * missing) and stops it when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const redisServer = (
  options: RedisServerOptions = {}
): Effect.Effect<RedisServer, LocalServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const port = options.port ?? (yield* net.freePort)
    const binary = options.binary ?? "redis-server"
    const child = yield* net.spawnScoped(
      "redis-server",
      binary,
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"],
      {}
    ).pipe(
      Effect.mapError((error) =>
        new LocalServerError({
          server: "redis-server",
          message:
            `${binary} could not be started (${error.message}). Install it with \`apt-get install -y redis-server\` (Debian package redis-server).`,
          cause: error
        })
      )
    )
    yield* net.waitForPort("redis-server", port, options.startTimeout ?? Duration.seconds(10)).pipe(
      Effect.mapError((error) =>
        new LocalServerError({
          server: "redis-server",
          message: `${error.message}\n${net.recentOutput(child)}`,
          cause: error
        })
      )
    )
    return { url: `redis://127.0.0.1:${port}`, host: "127.0.0.1", port }
  })
