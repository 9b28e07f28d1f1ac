/**
 * Graceful shutdown on SIGINT: the consumer stops polling, writes the checkpoint of everything the
 * downstream finished, and releases its leases before the process exits. This program sends itself
 * SIGINT (as Ctrl-C would) halfway through, then shows the checkpoints that were flushed.
 */
import { Checkpointer, Consumer, Kinesis, Producer } from "@effect-kinesis/core"
import { LocalKinesis } from "@effect-kinesis/local"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer, Stream } from "effect"

const store = Checkpointer.makeMemoryStore() // outlives the consumer: we read it after the shutdown

const program = Effect.gen(function*() {
  yield* Stream.range(1, 5000).pipe(
    Stream.run(Producer.sink({ stream: "events", createStream: { shardCount: 2 } }))
  )
  // runs last (finalizers run in reverse order): after the consumer's own finalizer has checkpointed
  yield* Effect.addFinalizer(() =>
    Effect.gen(function*() {
      const probe = yield* Checkpointer.makeMemory({ store, workerId: "probe" })
      for (const shard of yield* probe.list("events")) {
        const last = lastProcessed.get(shard.shardId)
        yield* Console.log(
          `${shard.shardId}: last record processed …${last?.slice(-10) ?? " none"}, checkpoint …${
            shard.checkpoint?.sequenceNumber.slice(-10) ?? " none"
          }, lease ${shard.owner === undefined ? "released" : `held by ${shard.owner}`}`
        )
      }
    }).pipe(Effect.orDie)
  )
  const lastProcessed = new Map<string, string>()
  let processed = 0
  yield* Consumer.stream<number>({ stream: "events", chunkSize: 100 }).pipe(
    Stream.mapChunksEffect((chunk) =>
      Effect.gen(function*() {
        yield* Effect.sleep("20 millis") // some work per chunk
        processed += chunk.length
        for (const record of chunk) lastProcessed.set(record.shardId, record.sequenceNumber)
        if (processed === 2500) {
          yield* Console.log("2,500 records processed: sending SIGINT (Ctrl-C)")
          process.kill(process.pid, "SIGINT")
        }
        return chunk
      })
    ),
    Stream.runDrain
  )
}).pipe(Effect.scoped)

const LocalKinesisLayer = Layer.unwrapScoped(Effect.map(LocalKinesis.kinesalite(), (local) => Kinesis.layer(local)))

program.pipe(
  Effect.provide(Layer.merge(LocalKinesisLayer, Checkpointer.layerMemory({ store }))),
  NodeRuntime.runMain
)
