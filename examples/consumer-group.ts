/**
 * A consumer group over Redis, two workers in one command: they split a 4-shard stream between them
 * (leases in Redis, fenced by lease counters), then one stops gracefully and the other takes its
 * shards over after its last checkpoint. Uses REDIS_URL when set, else a private redis-server
 * (`apt-get install -y redis-server`); Kinesis is an embedded kinesalite.
 */
import { RedisCheckpointer } from "@effect-kinesis/checkpoint-redis"
import { Checkpointer, Consumer, Kinesis, Producer } from "@effect-kinesis/core"
import { LocalKinesis, LocalRedis } from "@effect-kinesis/local"
import { NodeRuntime } from "@effect/platform-node"
import { Config, Console, Effect, Fiber, Layer, Option, Schedule, Stream } from "effect"

/** A worker for the enclosing scope: its Redis connection and consumer live as long as the scope. */
const worker = (workerId: string, redisUrl: string, seen: Map<number, string>) =>
  Effect.gen(function*() {
    const checkpointer = yield* RedisCheckpointer.make({
      group: "job-runners",
      redis: redisUrl,
      workerId,
      sessionTimeout: "3 seconds" // a crashed worker's shards move after 3 s
    })
    const consumer = yield* Consumer.make<number>({ stream: "jobs", idleDelay: "200 millis" }).pipe(
      Effect.provideService(Checkpointer.Checkpointer, checkpointer)
    )
    yield* consumer.records.pipe(
      Stream.runForEach((record) => Effect.sync(() => seen.set(record.value, workerId))),
      Effect.forkScoped
    )
    return consumer
  })

const shardsOf = (consumer: Consumer.Consumer<number>) =>
  Effect.map(consumer.status, (s) => s.shards.filter((x) => x.state === "reading").map((x) => x.shardId.slice(-2)))

const program = Effect.gen(function*() {
  const redisUrl = Option.getOrUndefined(yield* Config.option(Config.string("REDIS_URL"))) ??
    (yield* LocalRedis.redisServer()).url
  yield* Kinesis.createStream({ streamName: "jobs", shardCount: 4, waitUntilActive: true })
  // jobs keep coming: 4,000 over about 8 seconds
  const producing = yield* Stream.range(1, 4000).pipe(
    Stream.schedule(Schedule.spaced("2 millis")),
    Stream.run(Producer.sink({ stream: "jobs" })),
    Effect.fork
  )

  const seen = new Map<number, string>()
  const a = yield* worker("worker-a", redisUrl, seen)
  const bFiber = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
    const b = yield* worker("worker-b", redisUrl, seen)
    yield* Effect.sleep("4 seconds")
    yield* Console.log(`worker-a reads ${yield* shardsOf(a)}, worker-b reads ${yield* shardsOf(b)}`)
  })))
  yield* Fiber.join(bFiber) // worker-b stops: final checkpoints, leases released
  yield* Effect.sleep("3 seconds")
  yield* Console.log(`worker-b stopped; worker-a reads ${yield* shardsOf(a)}`)
  yield* Fiber.join(producing)
  yield* Effect.sleep("2 seconds")
  const byWorker: Record<string, number> = {}
  for (const w of seen.values()) byWorker[w] = (byWorker[w] ?? 0) + 1
  yield* Console.log(`${seen.size} of 4000 jobs processed (last handled by: ${JSON.stringify(byWorker)})`)
}).pipe(Effect.scoped)

const LocalKinesisLayer = Layer.unwrapScoped(Effect.map(LocalKinesis.kinesalite(), (local) => Kinesis.layer(local)))

program.pipe(Effect.provide(LocalKinesisLayer), NodeRuntime.runMain)
