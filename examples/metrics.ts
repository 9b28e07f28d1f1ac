import { KinesisTest, Producer } from "@effect-kinesis/core"
import { CloudWatchMetrics, PrometheusMetrics } from "@effect-kinesis/metrics"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer, Stream } from "effect"

const program = Effect.gen(function*() {
  yield* Stream.range(1, 1000).pipe(Stream.run(Producer.sink({ stream: "orders" })))
  // scrape our own endpoint, as Prometheus would
  const { url } = yield* PrometheusMetrics.PrometheusEndpoint
  const body = yield* Effect.promise(() => fetch(url).then((res) => res.text()))
  yield* Console.log(body.split("\n").filter((line) => line.startsWith("kinesis_producer_")).join("\n"))
})

program.pipe(
  Effect.provide(Layer.mergeAll(
    KinesisTest.layer({ streams: { orders: { shards: 2 } } }), // Kinesis.layerConfig(Kinesis.config) for AWS
    PrometheusMetrics.layer({ port: 0 }), // GET http://127.0.0.1:<port>/metrics (default port 9464)
    // CloudWatchMetrics.layer({ namespace: "Orders" }) sends PutMetricData every minute; on Lambda,
    // Embedded Metric Format lines on stdout:
    CloudWatchMetrics.emf({ namespace: "Orders", dimensions: { Service: "orders" } })
  )),
  NodeRuntime.runMain
)
