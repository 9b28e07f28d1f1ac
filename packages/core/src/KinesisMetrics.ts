/**
 * The Effect `Metric`s the producer and consumer update. Tag them at the use site with the stream
 * (`Metric.tagged(KinesisMetrics.producerRecords, "stream", name)`) and, where it matters, the shard.
 * Names follow Prometheus conventions: a `kinesis_` prefix, `_total` on counters, units in the name.
 *
 * @since 0.1.0
 */
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"

const latencyBoundaries = MetricBoundaries.exponential({ start: 0.001, factor: 2, count: 16 })

/**
 * User records delivered by producers.
 *
 * @since 0.1.0
 * @category metrics
 */
export const producerRecords = Metric.counter("kinesis_producer_records_total", {
  description: "User records delivered to Kinesis by producers",
  incremental: true
})

/**
 * Kinesis records (aggregates count once) delivered by producers.
 *
 * @since 0.1.0
 * @category metrics
 */
export const producerKinesisRecords = Metric.counter("kinesis_producer_kinesis_records_total", {
  description: "Kinesis records (an aggregate counts once) delivered by producers",
  incremental: true
})

/**
 * Bytes (data + partition keys) delivered by producers.
 *
 * @since 0.1.0
 * @category metrics
 */
export const producerBytes = Metric.counter("kinesis_producer_bytes_total", {
  description: "Bytes (data plus partition keys) delivered to Kinesis by producers",
  incremental: true
})

/**
 * PutRecords requests made.
 *
 * @since 0.1.0
 * @category metrics
 */
export const producerRequests = Metric.counter("kinesis_producer_put_records_requests_total", {
  description: "PutRecords requests made by producers",
  incremental: true
})

/**
 * Kinesis records per PutRecords request.
 *
 * @since 0.1.0
 * @category metrics
 */
export const producerBatchSize = Metric.histogram(
  "kinesis_producer_batch_records",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 10 }),
  "Kinesis records per PutRecords request"
)

/**
 * PutRecords latency.
 *
 * @since 0.1.0
 * @category metrics
 */
export const producerPutLatency = Metric.histogram(
  "kinesis_producer_put_records_latency_seconds",
  latencyBoundaries,
  "PutRecords request latency in seconds"
)

/**
 * Kinesis records refused with ProvisionedThroughputExceededException (or KMS throttling).
 *
 * @since 0.1.0
 * @category metrics
 */
export const producerThrottledRecords = Metric.counter("kinesis_producer_throttled_records_total", {
  description: "Kinesis records refused by throttling and retried",
  incremental: true
})

/**
 * Kinesis records sent again after a failure.
 *
 * @since 0.1.0
 * @category metrics
 */
export const producerRetries = Metric.counter("kinesis_producer_retried_records_total", {
  description: "Kinesis records sent again after a failed attempt",
  incremental: true
})

/**
 * User records given up on (reported in `PutRecordsFailed`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const producerFailedRecords = Metric.counter("kinesis_producer_failed_records_total", {
  description: "User records that could not be delivered",
  incremental: true
})

/**
 * User records waiting in a producer (accepted, not yet delivered).
 *
 * @since 0.1.0
 * @category metrics
 */
export const producerQueueRecords = Metric.gauge("kinesis_producer_queue_records", {
  description: "User records accepted by a producer and not yet delivered"
})

/**
 * Bytes waiting in a producer.
 *
 * @since 0.1.0
 * @category metrics
 */
export const producerQueueBytes = Metric.gauge("kinesis_producer_queue_bytes", {
  description: "Bytes accepted by a producer and not yet delivered"
})
