/**
 * A consumer-group worker program for the process-level group tests (`GroupSuite`): a package's fixture
 * calls `main(checkpointerLayer)` and is started as a child process by the suite.
 *
 * Environment: KINESIS_ENDPOINT, KINESIS_REGION, STREAM, WORKER_ID, SESSION_TIMEOUT_MS, HEARTBEAT_MS.
 * Output (stdout, one line each):
 * - `D <shardId> <key> <n>` for every record delivered (values are `{ k, n }` JSON);
 * - `S <json array of the shard ids this worker reads>` every 250 ms.
 * SIGTERM/SIGINT stop it gracefully (final checkpoints, leases released); SIGKILL is a crash.
 */
import type * as Checkpointer from "@effect-kinesis/core/Checkpointer"
import * as Consumer from "@effect-kinesis/core/Consumer"
import * as Kinesis from "@effect-kinesis/core/Kinesis"
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Logger, LogLevel, Schedule, Stream } from "effect"

const env = (name: string): string => {
  const value = process.env[name]
  if (value === undefined) throw new Error(`${name} is not set`)
  return value
}

/** Session settings the worker's checkpointer should use. */
export const session = () => ({
  workerId: env("WORKER_ID"),
  sessionTimeout: Number(env("SESSION_TIMEOUT_MS")),
  heartbeatInterval: Number(env("HEARTBEAT_MS"))
})

export const main = <E>(checkpointer: Layer.Layer<Checkpointer.Checkpointer, E>): void => {
  const kinesis = Kinesis.layer({
    endpoint: env("KINESIS_ENDPOINT"),
    region: env("KINESIS_REGION"),
    credentials: { accessKeyId: "local", secretAccessKey: "local" }
  })
  const program = Effect.gen(function*() {
    const consumer = yield* Consumer.make<{ readonly k: string; readonly n: number }>({
      stream: env("STREAM"),
      idleDelay: "200 millis",
      shardRefreshInterval: "2 seconds",
      checkpointInterval: "300 millis"
    })
    yield* Effect.forkScoped(
      Effect.repeat(
        Effect.flatMap(consumer.status, (status) =>
          Effect.sync(() => {
            const reading = status.shards.filter((s) => s.state === "reading").map((s) => s.shardId)
            process.stdout.write(`S ${JSON.stringify(reading)}\n`)
          })),
        Schedule.spaced("250 millis")
      )
    )
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
