/**
 * A Kinesis-triggered AWS Lambda function, invoked here locally with a sample event
 * (events/kinesis-event.json, in the shape AWS sends): orders decoded through a Schema, charged 8 at a
 * time in order per customer; order 3 is declined, so the response names it and Lambda would retry its
 * shard from there.
 */
import { Lambda, Processor } from "@effect-kinesis/core"
import { Context, Data, Effect, Layer, Schedule, Schema } from "effect"
import * as Fs from "node:fs"

const Order = Schema.Struct({ id: Schema.Number, customer: Schema.String, total: Schema.Number })

class Declined extends Data.TaggedError("Declined")<{ readonly id: number }> {}

class Payments extends Context.Tag("Payments")<Payments, {
  readonly charge: (order: typeof Order.Type) => Effect.Effect<void, Declined>
}>() {}

/** Built once per Lambda container (a client, a connection pool…), released when the container stops. */
const PaymentsLive = Layer.scoped(
  Payments,
  Effect.acquireRelease(
    Effect.as(Effect.log("payments client: connected"), {
      charge: (order: typeof Order.Type) =>
        order.id === 3
          ? Effect.fail(new Declined({ id: order.id }))
          : Effect.log(`charged order ${order.id} of ${order.customer}: ${order.total}`)
    }),
    () => Effect.log("payments client: closed")
  )
)

// in the function's module: `export const handler = Lambda.handler(…)`, with the event source mapping's
// FunctionResponseTypes set to ["ReportBatchItemFailures"]
export const handler = Lambda.handler(
  {
    layer: PaymentsLive,
    processor: Processor.schemaJson(Order),
    concurrency: 8,
    retry: Schedule.recurs(2)
  },
  (record) => Effect.flatMap(Payments, (payments) => payments.charge(record.value))
)

// locally: invoke it with the sample event, as Lambda would
const event: unknown = JSON.parse(Fs.readFileSync(new URL("./events/kinesis-event.json", import.meta.url), "utf8"))
const response = await handler(event)
console.log("response:", JSON.stringify(response))
await handler.dispose()
