/**
 * The service consumers coordinate through: shard leases, checkpoints, shard-ended marks and the
 * live-worker view used for balancing.
 *
 * @since 0.1.0
 */
export * as Checkpointer from "./Checkpointer.js"

/**
 * Consuming a Kinesis stream as an Effect `Stream` of typed records that survives resharding, restarts
 * and lease moves.
 *
 * @since 0.1.0
 */
export * as Consumer from "./Consumer.js"

/**
 * The Kinesis port: the narrow service through which the library talks to Kinesis Data Streams.
 *
 * @since 0.1.0
 */
export * as Kinesis from "./Kinesis.js"

/**
 * Typed errors of effect-kinesis.
 *
 * @since 0.1.0
 */
export * as KinesisError from "./KinesisError.js"

/**
 * The Effect `Metric`s the producer and consumer update. Tag them at the use site with the stream
 * (`Metric.tagged(KinesisMetrics.producerRecords, "stream", name)`) and, where it matters, the shard.
 * Names follow Prometheus conventions: a `kinesis_` prefix, `_total` on counters, units in the name.
 *
 * @since 0.1.0
 */
export * as KinesisMetrics from "./KinesisMetrics.js"

/**
 * An in-memory Kinesis behind the `Kinesis` port, for tests and benchmarks: shards with AWS's
 * hash-key ranges and sequence numbers, split / merge / uniform UpdateShardCount with the lineage AWS
 * produces, retention, iterator expiry, AWS's write and read limits per shard (throttles like the
 * service), fault injection and inspection — all on Effect's `Clock`, so `TestClock.adjust` drives
 * expiry, retention, rate windows and UPDATING durations, and a run with a `seed` is reproducible.
 *
 * @since 0.1.0
 */
export * as KinesisTest from "./KinesisTest.js"

/**
 * Kinesis in AWS Lambda: a handler for Kinesis event-source-mapping events with the same decoding
 * (base64, KPL de-aggregation, `Processor`s and `Schema`), concurrency, per-key order and poison-record
 * policy as `Consumer.process`, answering with exact partial batch failures.
 *
 * @since 0.2.0
 */
export * as Lambda from "./Lambda.js"

/**
 * Processors: how user values become Kinesis records and back. A processor is a serializer (one value ↔
 * bytes) plus an aggregator (many user records ↔ one Kinesis record).
 *
 * @since 0.1.0
 */
export * as Processor from "./Processor.js"

/**
 * Producing to a Kinesis stream: `Producer.sink` for `Stream.run`, and `Producer.make` for `put` /
 * `send` / `flush` from application code.
 *
 * @since 0.1.0
 */
export * as Producer from "./Producer.js"

/**
 * Hash-key ranges of shards: which shard a record goes to. Pure.
 *
 * @since 0.1.0
 */
export * as ShardMap from "./ShardMap.js"

/**
 * A Kinesis stream, named by name or by ARN (`arn:aws:kinesis:REGION:ACCOUNT:stream/NAME`).
 *
 * @since 0.1.0
 */
export * as StreamAddress from "./StreamAddress.js"

/**
 * The parent → child graph of a stream's shards, and which shards may be read now.
 *
 * @since 0.1.0
 */
export * as Topology from "./Topology.js"
