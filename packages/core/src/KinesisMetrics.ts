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
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 11 }), // 1 … 512 (a request holds ≤ 500)
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

/**
 * User records delivered to the downstream by consumers (tag: stream, shard).
 *
 * @since 0.1.0
 * @category metrics
 */
export const consumerRecords = Metric.counter("kinesis_consumer_records_total", {
  description: "User records read and delivered downstream by consumers",
  incremental: true
})

/**
 * Bytes of Kinesis records read by consumers (tag: stream, shard).
 *
 * @since 0.1.0
 * @category metrics
 */
export const consumerBytes = Metric.counter("kinesis_consumer_bytes_total", {
  description: "Bytes of Kinesis records read by consumers",
  incremental: true
})

/**
 * How far a shard's reader is behind the tip of the shard, in seconds: GetRecords' MillisBehindLatest ÷ 1000
 * (Prometheus wants base units) (tag: stream, shard).
 *
 * @since 0.1.0
 * @category metrics
 */
export const consumerBehindLatest = Metric.gauge("kinesis_consumer_behind_latest_seconds", {
  description: "How far behind the tip of its shard the last GetRecords was (MillisBehindLatest / 1000)"
})

/**
 * GetRecords latency (tag: stream).
 *
 * @since 0.1.0
 * @category metrics
 */
export const consumerGetRecordsLatency = Metric.histogram(
  "kinesis_consumer_get_records_latency_seconds",
  latencyBoundaries,
  "GetRecords request latency in seconds"
)

/**
 * GetRecords / GetShardIterator calls refused by throttling (tag: stream, shard).
 *
 * @since 0.1.0
 * @category metrics
 */
export const consumerThrottles = Metric.counter("kinesis_consumer_throttles_total", {
  description: "Consumer reads refused by throttling and retried",
  incremental: true
})

/**
 * Shard iterators renewed after they expired (tag: stream, shard).
 *
 * @since 0.1.0
 * @category metrics
 */
export const consumerExpiredIterators = Metric.counter("kinesis_consumer_expired_iterators_total", {
  description: "Shard iterators that expired and were renewed at the last read position",
  incremental: true
})

/**
 * Checkpoints written (tag: stream).
 *
 * @since 0.1.0
 * @category metrics
 */
export const consumerCheckpoints = Metric.counter("kinesis_consumer_checkpoints_total", {
  description: "Checkpoints written by consumers",
  incremental: true
})

/**
 * Checkpoint writes that failed (tag: stream).
 *
 * @since 0.1.0
 * @category metrics
 */
export const consumerCheckpointFailures = Metric.counter("kinesis_consumer_checkpoint_failures_total", {
  description: "Checkpoint writes that failed (store error or lost lease)",
  incremental: true
})

/**
 * Shard leases this worker holds (tag: stream, worker).
 *
 * @since 0.1.0
 * @category metrics
 */
export const consumerLeasesHeld = Metric.gauge("kinesis_consumer_leases_held", {
  description: "Shard leases held by a consumer worker"
})

/**
 * Leases this worker lost to another worker or to expiry (tag: stream).
 *
 * @since 0.1.0
 * @category metrics
 */
export const consumerLeasesLost = Metric.counter("kinesis_consumer_leases_lost_total", {
  description: "Shard leases a consumer worker lost",
  incremental: true
})

/**
 * Shards that ended (split or merged) and were handed to their children (tag: stream).
 *
 * @since 0.1.0
 * @category metrics
 */
export const consumerShardsEnded = Metric.counter("kinesis_consumer_shards_ended_total", {
  description: "Closed shards read to their end and marked ended (resharding)",
  incremental: true
})

/**
 * Records that could not be decoded (tag: stream, policy).
 *
 * @since 0.1.0
 * @category metrics
 */
export const consumerDecodeErrors = Metric.counter("kinesis_consumer_decode_errors_total", {
  description: "Records a consumer could not decode",
  incremental: true
})

/**
 * Handler runs of `Consumer.process` retried by its `retry` schedule (tag: stream).
 *
 * @since 0.2.0
 * @category metrics
 */
export const consumerHandlerRetries = Metric.counter("kinesis_consumer_handler_retries_total", {
  description: "Handler runs of Consumer.process retried",
  incremental: true
})

/**
 * Records `Consumer.process` sent to its dead letter (tag: stream, reason `HandlerFailed` or `DecodeFailed`).
 *
 * @since 0.2.0
 * @category metrics
 */
export const consumerDeadLetters = Metric.counter("kinesis_consumer_dead_letters_total", {
  description: "Records a consumer sent to its dead letter",
  incremental: true
})

/**
 * Records `Consumer.process` did not run again because their id completed lately (tag: stream).
 *
 * @since 0.2.0
 * @category metrics
 */
export const consumerDuplicates = Metric.counter("kinesis_consumer_duplicates_total", {
  description: "Redelivered records Consumer.process skipped as duplicates",
  incremental: true
})
