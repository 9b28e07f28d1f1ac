/**
 * Tracing: the spans of a produce and a consume through `@effect/opentelemetry`, on an embedded local
 * Kinesis. Each PutRecords request of the producer, each GetRecords fetch and delivered batch of the
 * consumer and each Kinesis API call is a span, nested under the program's own spans.
 *
 * By default the spans are printed (the OpenTelemetry SDK's console exporter, one object per span).
 * With `OTEL_EXPORTER_OTLP_ENDPOINT` set (e.g. `http://localhost:4318` for a local collector or
 * Jaeger), they are sent there over OTLP/HTTP instead.
 *
 *   pnpm --filter @effect-kinesis/examples tracing
 *   OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 pnpm --filter @effect-kinesis/examples tracing
 */
import { Checkpointer, Consumer, Kinesis, Producer } from "@effect-kinesis/core"
import { LocalKinesis } from "@effect-kinesis/local"
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { NodeRuntime } from "@effect/platform-node"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import { BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Console, Effect, Layer, Stream } from "effect"

const program = Effect.gen(function*() {
  yield* Stream.range(1, 2_000).pipe(
    Stream.map((n) => ({ order: n, total: n * 10 })),
    Stream.run(Producer.sink({ stream: "traced-orders", createStream: { shardCount: 2 } })),
    Effect.withSpan("publish orders")
  )
  const read = yield* Consumer.stream<{ order: number; total: number }>({ stream: "traced-orders" }).pipe(
    Stream.take(2_000),
    Stream.runCount,
    Effect.withSpan("read orders")
  )
  yield* Console.log(`read ${read} orders`)
}).pipe(
  // logs carry the trace and span ids of the span they are written in
  Effect.withSpan("tracing example")
)

const otlp = process.env.OTEL_EXPORTER_OTLP_ENDPOINT
const TracingLive = NodeSdk.layer(() => ({
  resource: { serviceName: "effect-kinesis-example" },
  spanProcessor: otlp !== undefined && otlp !== ""
    // the exporter reads OTEL_EXPORTER_OTLP_ENDPOINT itself (and appends /v1/traces)
    ? new BatchSpanProcessor(new OTLPTraceExporter())
    : new SimpleSpanProcessor(new ConsoleSpanExporter())
}))

const LocalKinesisLayer = Layer.unwrapScoped(
  Effect.map(LocalKinesis.kinesalite(), (local) => Kinesis.layer(local))
)

program.pipe(
  Effect.provide(Layer.mergeAll(LocalKinesisLayer, Checkpointer.layerMemory(), TracingLive)),
  NodeRuntime.runMain
)
