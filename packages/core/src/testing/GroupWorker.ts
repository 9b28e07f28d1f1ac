/**
 * A consumer-group worker program for the process-level group tests (`GroupSuite`): a package's fixture
 * calls `main(checkpointerLayer)` and is started as a child process by the suite.
 *
 * Environment: KINESIS_ENDPOINT, KINESIS_REGION, STREAM, WORKER_ID, SESSION_TIMEOUT_MS, HEARTBEAT_MS, and
 * MODE: `stream` (default: `Consumer.make`'s records) or `process` (`Consumer.startProcess`, concurrency
 * 32, a handler taking 0–5 ms).
 * Output (stdout, one line each):
 * - `D <shardId> <key> <n>` for every record delivered (values are `{ k, n }` JSON; in `process` mode,
 *   once its handler completed);
 * - `S <json array of the shard ids this worker reads>` every 250 ms.
 * SIGTERM/SIGINT stop it gracefully (final checkpoints, leases released); SIGKILL is a crash.
 *
 * Needs `@effect/platform-node` (an optional peer dependency of this package) and no test runner.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import type * as Checkpointer from "../Checkpointer.js"
import * as Consumer from "../Consumer.js"
import * as Kinesis from "../Kinesis.js"

interface Value {
  readonly k: string
  readonly n: number
}

const env = (name: string): string => {
  const value = process.env[name]
  if (value === undefined) throw new Error(`${name} is not set`)
  return value
}

/**
 * Session settings the worker's checkpointer should use (from WORKER_ID, SESSION_TIMEOUT_MS and
 * HEARTBEAT_MS, which the suite sets).
 *
 * @since 0.1.0
 * @category constructors
 */
export const session = (): {
  readonly workerId: string
  readonly sessionTimeout: number
  readonly heartbeatInterval: number
} => ({
  workerId: env("WORKER_ID"),
  sessionTimeout: Number(env("SESSION_TIMEOUT_MS")),
  heartbeatInterval: Number(env("HEARTBEAT_MS"))
})

/**
 * Runs the worker: a consumer over the suite's stream with `checkpointer`, printing what it reads and
 * delivers, until it is signalled.
 *
 * @since 0.1.0
 * @category running
 */
export const main = <E>(checkpointer: Layer.Layer<Checkpointer.Checkpointer, E>): void => {
  const kinesis = Kinesis.layer({
    endpoint: env("KINESIS_ENDPOINT"),
    region: env("KINESIS_REGION"),
    credentials: { accessKeyId: "local", secretAccessKey: "local" }
  })
  const options = {
    stream: env("STREAM"),
    idleDelay: "200 millis",
    shardRefreshInterval: "2 seconds",
    checkpointInterval: "300 millis"
  } as const
  const reportStatus = (status: Effect.Effect<Consumer.ConsumerStatus>) =>
    Effect.forkScoped(
      Effect.repeat(
        Effect.flatMap(status, (status) =>
          Effect.sync(() => {
            const reading = status.shards.filter((s) => s.state === "reading").map((s) => s.shardId)
            process.stdout.write(`S ${JSON.stringify(reading)}\n`)
          })),
        Schedule.spaced("250 millis")
      )
    )
  const program = process.env.MODE === "process"
    ? Effect.gen(function*() {
      const processing = yield* Consumer.startProcess<Value>(
        { ...options, concurrency: 32 },
        (r) =>
          Effect.zipRight(
            Effect.sleep(Math.floor(Math.random() * 6)),
            Effect.sync(() => process.stdout.write(`D ${r.shardId} ${r.value.k} ${r.value.n}\n`))
          )
      )
      yield* reportStatus(processing.status)
      return yield* processing.await
    }).pipe(Effect.scoped)
    : Effect.gen(function*() {
      const consumer = yield* Consumer.make<Value>(options)
      yield* reportStatus(consumer.status)
      yield* consumer.records.pipe(
        Stream.runForEachChunk((chunk) =>
          Effect.sync(() => {
            let out = ""
            for (const r of chunk) out += `D ${r.shardId} ${r.value.k} ${r.value.n}\n`
            process.stdout.write(out)
          })
        )
      )
    }).pipe(Effect.scoped)
  program.pipe(
    Effect.provide(Layer.merge(kinesis, checkpointer)),
    Logger.withMinimumLogLevel(LogLevel.Debug), // lease moves are logged at debug: shown when a case fails
    NodeRuntime.runMain
  )
}
