/**
 * `Consumer.process`: a handler per record, 64 at a time, each customer's orders in order, checkpoints
 * at the watermark; a flaky dependency retried, a poison order sent to a dead-letter stream; all on an
 * embedded local Kinesis.
 */
import { Checkpointer, Consumer, Kinesis, Processor, Producer } from "@effect-kinesis/core"
import { LocalKinesis } from "@effect-kinesis/local"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Data, Deferred, Effect, Layer, Schedule, Schema, Stream } from "effect"

const Order = Schema.Struct({ id: Schema.Number, customer: Schema.String, total: Schema.Number })
const processor = Processor.schemaJson(Order)
const ORDERS = 5_000

class PaymentDeclined extends Data.TaggedError("PaymentDeclined")<{ readonly id: number }> {}

/** A payment API: ~5 ms a call, now and then unavailable, and order 1234 is always declined. */
const charge = (order: typeof Order.Type) =>
  Effect.gen(function*() {
    yield* Effect.sleep("5 millis")
    if (order.id === 1234) return yield* new PaymentDeclined({ id: order.id })
    if (Math.random() < 0.02) return yield* new PaymentDeclined({ id: order.id }) // transient
  })

const produce = Stream.range(1, ORDERS).pipe(
  Stream.map((id) => ({ id, customer: `customer-${id % 100}`, total: id % 300 })),
  Stream.run(Producer.sink({
    stream: "orders",
    createStream: { shardCount: 4 },
    processor,
    partitionKey: (order) => order.customer
  }))
)

const program = Effect.gen(function*() {
  yield* produce
  yield* Kinesis.createStream({ streamName: "orders-dead-letters", shardCount: 1, waitUntilActive: true })
  // the dead letters: another stream, written through a producer (acknowledged before the checkpoint moves)
  const deadLetters = yield* Producer.make({ stream: "orders-dead-letters", processor: Consumer.poisonRecords })
  const lastByCustomer = new Map<string, number>()
  let charged = 0
  const finished = yield* Deferred.make<void>()
  const processing = yield* Consumer.startProcess({
    stream: "orders",
    processor,
    idleDelay: "200 millis",
    concurrency: 64, // handlers at once; each customer's orders one at a time, in order
    retry: Schedule.exponential("20 millis").pipe(Schedule.intersect(Schedule.recurs(4))),
    onFailure: { deadLetter: Consumer.deadLetterTo(deadLetters) }
  }, (record) =>
    Effect.gen(function*() {
      yield* charge(record.value)
      const last = lastByCustomer.get(record.value.customer) ?? 0
      if (record.value.id <= last) yield* Effect.dieMessage(`out of order: ${record.value.id} after ${last}`)
      lastByCustomer.set(record.value.customer, record.value.id)
      if (++charged === ORDERS - 1) yield* Deferred.succeed(finished, undefined)
    }))
  yield* Effect.raceFirst(Deferred.await(finished), processing.await)
  const status = yield* processing.status
  yield* Console.log(`${charged} orders charged in order per customer over ${status.shards.length} shards`)
  yield* deadLetters.flush
  // read the dead-letter stream back: the original bytes, where they came from, why
  yield* Consumer.stream({ stream: "orders-dead-letters", processor: Consumer.poisonRecords, idleDelay: "200 millis" })
    .pipe(
      Stream.take(1),
      Stream.runForEach(({ value: letter }) =>
        Console.log(
          `dead letter: ${new TextDecoder().decode(letter.data)} from ${letter.shardId} ` +
            `after ${letter.attempts} attempts: ${letter.cause.split("\n")[0]}`
        )
      )
    )
}).pipe(Effect.scoped) // closing the scope stops the handlers and writes each shard's watermark

const KinesisLocal = Layer.unwrapScoped(
  Effect.map(
    LocalKinesis.kinesalite(),
    ({ credentials, endpoint, region }) => Kinesis.layer({ endpoint, region, credentials })
  )
)

program.pipe(
  Effect.provide(Layer.merge(KinesisLocal, Checkpointer.layerMemory())),
  NodeRuntime.runMain
)
