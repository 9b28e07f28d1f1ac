// A user's first program, as plain Node runs it from the installed tarballs (no TypeScript, no tsx):
// kinesalite through @effect-kinesis/local, 1,000 typed orders through Producer.sink, read back with
// Consumer.stream, checked (every order once, each customer's in order). Exit 0 when all is well.
import { Checkpointer, Consumer, Kinesis, Processor, Producer } from "@effect-kinesis/core"
import { LocalKinesis } from "@effect-kinesis/local"
import { Effect, Layer, Schema, Stream } from "effect"

const count = 1000
const Order = Schema.Struct({ id: Schema.Number, customer: Schema.String })
const processor = Processor.schemaJson(Order)
const orders = Array.from({ length: count }, (_, id) => ({ id, customer: `customer-${id % 17}` }))

const roundTrip = Effect.gen(function*() {
  yield* Kinesis.createStream({ streamName: "orders", shardCount: 4, waitUntilActive: true })
  yield* Stream.fromIterable(orders).pipe(
    Stream.run(Producer.sink({ stream: "orders", processor, partitionKey: (order) => order.customer }))
  )
  const records = yield* Consumer.stream({ stream: "orders", processor }).pipe(
    Stream.take(count),
    Stream.runCollect,
    Effect.timeout("60 seconds")
  )
  const seen = new Set()
  const last = new Map()
  for (const record of records) {
    const { customer, id } = record.value
    if (seen.has(id)) throw new Error(`order ${id} delivered twice`)
    seen.add(id)
    if ((last.get(customer) ?? -1) > id) throw new Error(`${customer}: order ${id} after ${last.get(customer)}`)
    last.set(customer, id)
    if (record.partitionKey !== customer) throw new Error(`order ${id}: partition key ${record.partitionKey}`)
  }
  if (seen.size !== count) throw new Error(`${seen.size} of ${count} orders read back`)
  return records.length
})

const program = Effect.gen(function*() {
  const server = yield* LocalKinesis.kinesalite()
  const kinesis = Kinesis.layer({ endpoint: server.endpoint, region: server.region, credentials: server.credentials })
  return yield* roundTrip.pipe(Effect.provide(Layer.merge(kinesis, Checkpointer.layerMemory())))
}).pipe(Effect.scoped)

Effect.runPromise(program).then(
  (n) => {
    console.log(`app.mjs: ${n} orders produced and consumed through the packed packages`)
    process.exit(0)
  },
  (error) => {
    console.error("app.mjs failed:", error)
    process.exit(1)
  }
)
