/**
 * Processors: how user values become Kinesis records and back. A processor is a serializer (one value ↔
 * bytes) plus an aggregator (many user records ↔ one Kinesis record).
 *
 * | processor | serializer | aggregation (wire format) | groups by |
 * |---|---|---|---|
 * | `bytes` | none (`Uint8Array` as is) | one user record per Kinesis record | — |
 * | `string` | UTF-8 | one per record | — |
 * | `json` | JSON, UTF-8 | one per record | — |
 * | `jsonLines` | JSON | each item followed by `\n` | partition key |
 * | `jsonList` | JSON | one JSON array per record: `[a,b]` | partition key |
 * | `msgpack` | MessagePack (msgpackr) | netstrings: `<length>:<bytes>,` | partition key |
 * | `kplBytes`, `kplString`, `kplJson` | none, UTF-8, JSON | KPL aggregated record (interoperable with KPL, KCL and `aws-kinesis-agg`) | target shard |
 * | `schema(S, base)`, `schemaJson(S)` | `effect/Schema` over the base's serializer | the base's | the base's |
 *
 * The producer side is chunk-oriented and incremental: an `Accumulator` takes arrays of user records and
 * returns the Kinesis records completed so far (each with the user records it carries and its size),
 * and `flush` returns the rest. The consumer side turns one Kinesis record into its user records, with
 * sequence and sub-sequence numbers, in a plain loop (no Effect per record). Failures are typed values:
 * `EncodeError` and `RecordTooLarge` when producing, `DecodeError` (shard, sequence number, cause) when
 * consuming. A record that lacks the KPL magic or whose MD5 is wrong is a plain record, as KCL reads it.
 *
 * @example
 * ```ts
 * import { Processor } from "@effect-kinesis/core"
 * import { Either, Schema } from "effect"
 *
 * const Order = Schema.Struct({ id: Schema.String, total: Schema.Number })
 * const orders = Processor.schema(Order, Processor.kplJson)
 *
 * // producer side: pack user records into Kinesis records for one target shard
 * const accumulator = orders.accumulator({ explicitHashKey: "0" })
 * const completed = accumulator.add([
 *   { value: { id: "a", total: 1 }, partitionKey: "customer-1" },
 *   { value: { id: "b", total: 2 }, partitionKey: "customer-2" }
 * ])
 * const pending = accumulator.flush() // one aggregate carrying both records and both keys
 *
 * // consumer side: one Kinesis record back into its user records
 * const [aggregate] = pending
 * const records = orders.deaggregate({
 *   sequenceNumber: "49590338271490256608559692538361571095921575989136588898",
 *   approximateArrivalTimestamp: new Date(),
 *   data: aggregate.data,
 *   partitionKey: aggregate.partitionKey
 * }, "shardId-000000000000")
 * if (Either.isRight(records)) {
 *   for (const r of records.right) console.log(r.subSequenceNumber, r.partitionKey, r.value.id)
 * }
 * console.log(Either.isRight(completed))
 * ```
 *
 * @since 0.1.0
 */
import type * as Either from "effect/Either"
import { dual } from "effect/Function"
import type { Pipeable } from "effect/Pipeable"
import * as Predicate from "effect/Predicate"
import type * as Schema from "effect/Schema"
import * as aggregators from "./internal/processor/aggregators.js"
import * as internal from "./internal/processor/processor.js"
import * as serializers from "./internal/processor/serializers.js"
import type { KinesisRecord, PutRecordsEntry } from "./Kinesis.js"
import type { DecodeError, EncodeError, RecordTooLarge } from "./KinesisError.js"

// ---------------------------------------------------------------------------------------------
// type ids, defaults
// ---------------------------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = internal.TypeId

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * Size limits, in bytes (a Kinesis record's size is its data plus the UTF-8 bytes of its partition key).
 *
 * @since 0.1.0
 * @category defaults
 */
export const defaults: {
  /** Kinesis' default maximum record size: 1 MiB. */
  readonly maxRecordSize: number
  /** The largest maximum record size a stream can be raised to (UpdateMaxRecordSize): 10 MiB. */
  readonly maxRecordSizeLimit: number
  /** KPL's default `AggregationMaxSize`: 51,200 bytes. The default aggregate size of the KPL processors. */
  readonly kplMaxAggregateSize: number
} = internal.defaults

// ---------------------------------------------------------------------------------------------
// models
// ---------------------------------------------------------------------------------------------

/**
 * One user record to produce.
 *
 * @since 0.1.0
 * @category models
 */
export interface Entry<A> {
  readonly value: A
  /** Unicode, 1–256 characters. Picks the shard (MD5) unless `explicitHashKey` is set. */
  readonly partitionKey: string
  /** Decimal 128-bit hash key that overrides MD5(partitionKey) for shard choice. */
  readonly explicitHashKey?: string | undefined
  /**
   * The UTF-8 length of `partitionKey`, when the caller knows it (the producer does for the keys it
   * makes up): the accumulator then does not measure the key. It must be exact.
   */
  readonly partitionKeyBytes?: number | undefined
}

/**
 * A Kinesis record ready for PutRecords (`data`, `partitionKey`, `explicitHashKey`: a
 * `Kinesis.PutRecordsEntry`), with the user records it carries, in order.
 *
 * @since 0.1.0
 * @category models
 */
export interface Aggregate<A, E extends Entry<A> = Entry<A>> extends PutRecordsEntry {
  /** The `Entry` objects given to `Accumulator.add` that this record carries (the same objects). */
  readonly records: ReadonlyArray<E>
  /** Bytes counted against the record size limit: data plus UTF-8 bytes of the partition key. */
  readonly size: number
}

/**
 * One user record read from a Kinesis record.
 *
 * @since 0.1.0
 * @category models
 */
export interface UserRecord<A> {
  readonly value: A
  readonly shardId: string
  /** The Kinesis record's sequence number. */
  readonly sequenceNumber: string
  /**
   * The user record's index inside its Kinesis record: the KPL sub-sequence number for a KPL
   * aggregate, the item index for the newline, JSON array and netstring framings (so a consumer can
   * resume inside a record). `undefined` for a record that is not aggregated.
   */
  readonly subSequenceNumber: number | undefined
  /** The user record's own partition key (from the KPL table for a KPL sub-record). */
  readonly partitionKey: string
  /** The user record's explicit hash key, when a KPL aggregate carries one (Kinesis does not return it otherwise). */
  readonly explicitHashKey: string | undefined
  readonly approximateArrivalTimestamp: Date
}

/**
 * What `deaggregateLenient` returns: the user records that decoded, and one `DecodeError` for each
 * that did not (a framing error stops the record there).
 *
 * @since 0.1.0
 * @category models
 */
export interface LenientResult<A> {
  readonly records: ReadonlyArray<UserRecord<A>>
  readonly failures: ReadonlyArray<DecodeError>
}

/**
 * Turns one value into bytes and back. Both functions may throw: a thrown error becomes the `cause` of
 * an `EncodeError` (naming the value) or of a `DecodeError` (naming shard and sequence number).
 *
 * @since 0.1.0
 * @category models
 */
export interface Serializer<A> {
  readonly encode: (value: A) => Uint8Array
  readonly decode: (bytes: Uint8Array) => A
}

/**
 * Called by `Aggregator.unpack` for each user record of a Kinesis record, in order.
 *
 * @since 0.1.0
 * @category models
 */
export type Emit = (
  data: Uint8Array,
  subSequenceNumber: number | undefined,
  partitionKey: string,
  explicitHashKey: string | undefined
) => void

/**
 * One Kinesis record's data being built from serialized user records. Mutable; `build` empties it.
 *
 * @since 0.1.0
 * @category models
 */
export interface AggregateBuilder {
  /** User records added so far. */
  readonly count: number
  /** Bytes of the data built so far (0 when empty). */
  readonly dataLength: number
  /**
   * Adds a serialized user record unless `dataLength` would then exceed `maxDataLength`, and says
   * whether it did. An empty builder takes any record (the caller has checked it fits alone).
   */
  readonly tryAdd: (
    item: Uint8Array,
    partitionKey: string,
    explicitHashKey: string | undefined,
    maxDataLength: number
  ) => boolean
  /** The data of the Kinesis record; empties the builder. */
  readonly build: () => Uint8Array
}

/**
 * Packs serialized user records into Kinesis records and unpacks them.
 *
 * @since 0.1.0
 * @category models
 */
export interface Aggregator {
  readonly name: string
  /**
   * True when one Kinesis record carries each user record's own partition key (KPL): records of many
   * keys share an aggregate, which must then be routed to the shard all of them belong to (the
   * producer aggregates per target shard and passes that shard's hash key). Otherwise records are
   * grouped by partition key (and explicit hash key).
   */
  readonly carriesPartitionKeys: boolean
  /** At most this many user records per Kinesis record (1: no aggregation). */
  readonly maxRecords: number
  /** Default limit on an aggregate's size (data + partition key); `undefined`: the maximum record size. */
  readonly defaultMaxAggregateSize: number | undefined
  /** Why a serialized user record cannot be framed (e.g. a newline inside a newline-framed item), if it cannot. */
  readonly validate: ((item: Uint8Array) => string | undefined) | undefined
  /**
   * Bytes of the data of a Kinesis record carrying only one user record, from the sizes (UTF-8 bytes)
   * of the serialized record, of its partition key and of its explicit hash key (if any).
   */
  readonly dataLengthOf: (
    itemLength: number,
    partitionKeyBytes: number,
    explicitHashKeyBytes: number | undefined
  ) => number
  readonly builder: () => AggregateBuilder
  /**
   * Calls `emit` for each user record of a Kinesis record, in order. Throws on malformed framing
   * (the error becomes the `cause` of a `DecodeError`).
   */
  readonly unpack: (record: KinesisRecord, emit: Emit) => void
}

/**
 * Options of an `Accumulator`.
 *
 * @since 0.1.0
 * @category models
 */
export interface AccumulatorOptions {
  /**
   * The stream's maximum record size (data + partition key), in bytes: a user record that cannot fit
   * alone fails with `RecordTooLarge`, and no aggregate exceeds it. Default `defaults.maxRecordSize`
   * (1 MiB); at most `defaults.maxRecordSizeLimit` (10 MiB).
   */
  readonly maxRecordSize?: number | undefined
  /**
   * Aggregates are completed before they would exceed this size (a user record larger than it still
   * gets an aggregate of its own, up to `maxRecordSize`). Default: the processor's `maxAggregateSize`,
   * capped at `maxRecordSize`.
   */
  readonly maxAggregateSize?: number | undefined
  /**
   * For aggregators that carry partition keys (KPL): the explicit hash key of every aggregate, a
   * decimal 128-bit integer inside the target shard's range. The producer groups user records by
   * target shard and passes that shard's key, so every sub-record belongs to the shard the aggregate
   * lands on (KCL drops sub-records outside it). When absent, an aggregate is routed by its first user
   * record's explicit hash key or partition key. Ignored by the other aggregators (each Kinesis record
   * keeps its user records' own keys).
   */
  readonly explicitHashKey?: string | undefined
}

/**
 * The producer side of a processor: an incremental, mutable packer. Feed it chunks with `add`; it
 * returns the Kinesis records completed because the next user record would not fit. `flush` returns
 * the Kinesis records still being built. Order is kept per partition key (and for KPL, per accumulator).
 *
 * @since 0.1.0
 * @category models
 */
export interface Accumulator<A, E extends Entry<A> = Entry<A>> {
  /**
   * Adds user records. All or nothing: if one of them cannot be encoded (`EncodeError`, naming the
   * value) or cannot fit in a record of `maxRecordSize` (`RecordTooLarge`), none of `entries` is added
   * and the accumulator is unchanged.
   */
  readonly add: (
    entries: ReadonlyArray<E>
  ) => Either.Either<ReadonlyArray<Aggregate<A, E>>, EncodeError | RecordTooLarge>
  /** The Kinesis records still being built; empties the accumulator. */
  readonly flush: () => ReadonlyArray<Aggregate<A, E>>
  /** User records added and not yet returned. */
  readonly pendingRecords: number
  /** Size (data + partition keys) of the Kinesis records still being built. */
  readonly pendingBytes: number
}

/**
 * A serializer plus an aggregator.
 *
 * @since 0.1.0
 * @category models
 */
export interface Processor<A> extends Pipeable {
  readonly [TypeId]: TypeId
  readonly name: string
  readonly serializer: Serializer<A>
  readonly aggregator: Aggregator
  /** The default limit on an aggregate's size; `undefined`: the maximum record size. */
  readonly maxAggregateSize: number | undefined
  /**
   * A new producer-side accumulator. Throws a `RangeError` (a programming error) when `maxRecordSize`
   * or `maxAggregateSize` is not a positive integer or `maxRecordSize` exceeds 10 MiB.
   */
  readonly accumulator: <E extends Entry<A> = Entry<A>>(options?: AccumulatorOptions) => Accumulator<A, E>
  /**
   * The user records of one Kinesis record, or the first `DecodeError` (shard id, sequence number,
   * sub-sequence number and the cause).
   */
  readonly deaggregate: (
    record: KinesisRecord,
    shardId: string
  ) => Either.Either<ReadonlyArray<UserRecord<A>>, DecodeError>
  /** Like `deaggregate`, but keeps the user records that decode and reports each one that does not. */
  readonly deaggregateLenient: (record: KinesisRecord, shardId: string) => LenientResult<A>
}

/**
 * @since 0.1.0
 * @category refinements
 */
export const isProcessor = (u: unknown): u is Processor<unknown> => Predicate.hasProperty(u, TypeId)

// ---------------------------------------------------------------------------------------------
// constructors
// ---------------------------------------------------------------------------------------------

/**
 * Builds a processor from a serializer and an aggregator.
 *
 * @example
 * ```ts
 * import { Processor } from "@effect-kinesis/core"
 *
 * // CSV lines, several per Kinesis record
 * const csv = Processor.make({
 *   name: "csv",
 *   serializer: {
 *     encode: (row: ReadonlyArray<string>) => new TextEncoder().encode(row.join(",")),
 *     decode: (bytes) => new TextDecoder().decode(bytes).split(",")
 *   },
 *   aggregator: Processor.newlineAggregator
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A>(options: {
  readonly name: string
  readonly serializer: Serializer<A>
  readonly aggregator: Aggregator
  /** Default: the aggregator's `defaultMaxAggregateSize`. */
  readonly maxAggregateSize?: number | undefined
}): Processor<A> => {
  // a serializer written in JavaScript may return something other than bytes: that record's
  // `EncodeError` (its encode throws), not a defect or a wrong body later
  const encode = options.serializer.encode
  return internal.make({
    ...options,
    serializer: {
      encode: (value) => {
        const bytes: unknown = encode(value)
        if (bytes instanceof Uint8Array) return bytes
        throw new TypeError(
          `the serializer of processor ${options.name} returned ${
            bytes === null ? "null" : typeof bytes
          }, not a Uint8Array`
        )
      },
      decode: options.serializer.decode
    }
  })
}

/**
 * A processor with another default aggregate size.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withMaxAggregateSize: {
  (maxAggregateSize: number): <A>(self: Processor<A>) => Processor<A>
  <A>(self: Processor<A>, maxAggregateSize: number): Processor<A>
} = dual(2, <A>(self: Processor<A>, maxAggregateSize: number): Processor<A> =>
  internal.make({
    name: self.name,
    serializer: self.serializer,
    aggregator: self.aggregator,
    maxAggregateSize
  }))

// ---------------------------------------------------------------------------------------------
// serializers
// ---------------------------------------------------------------------------------------------

/**
 * No serialization: the value is the bytes (decoded values are views into the record's data, not copies).
 *
 * @since 0.1.0
 * @category serializers
 */
export const bytesSerializer: Serializer<Uint8Array> = serializers.bytes

/**
 * UTF-8. Decoding rejects malformed UTF-8; lone surrogates are encoded as U+FFFD.
 *
 * @since 0.1.0
 * @category serializers
 */
export const stringSerializer: Serializer<string> = serializers.string

/**
 * `JSON.stringify` in UTF-8. A value JSON cannot represent (a `BigInt`, a cycle, `undefined`, a
 * function) fails to encode.
 *
 * @since 0.1.0
 * @category serializers
 */
export const jsonSerializer: Serializer<unknown> = serializers.json

/**
 * MessagePack through msgpackr, with plain maps (`useRecords: false`) so other MessagePack readers
 * understand it.
 *
 * @since 0.1.0
 * @category serializers
 */
export const msgpackSerializer: Serializer<unknown> = serializers.msgpack

/**
 * Encodes with a `Schema` (sync) before the base serializer, and decodes with it after; a `ParseError`
 * is the cause of the resulting `EncodeError` / `DecodeError`.
 *
 * @since 0.1.0
 * @category serializers
 */
export const schemaSerializer: <A, I>(
  schema: Schema.Schema<A, I, never>,
  base: Serializer<I> | Serializer<unknown>
) => Serializer<A> = serializers.schema

// ---------------------------------------------------------------------------------------------
// aggregators
// ---------------------------------------------------------------------------------------------

/**
 * No aggregation: one user record per Kinesis record, with its own partition and explicit hash keys.
 *
 * @since 0.1.0
 * @category aggregators
 */
export const singleAggregator: Aggregator = aggregators.single

/**
 * Each user record followed by `\n` (`123\ntest\n`); records are grouped by partition key. An item that
 * contains a newline byte fails to encode. Reading accepts a last item without its newline.
 *
 * @since 0.1.0
 * @category aggregators
 */
export const newlineAggregator: Aggregator = aggregators.newline

/**
 * Netstrings, `<decimal length>:<bytes>,` per user record (`3:123,4:test,`); grouped by partition key.
 *
 * @since 0.1.0
 * @category aggregators
 */
export const netstringAggregator: Aggregator = aggregators.netstring

/**
 * One JSON array per Kinesis record (`[1,"a"]`): for serializers that write JSON values. Grouped by
 * partition key; reading accepts whitespace between elements.
 *
 * @since 0.1.0
 * @category aggregators
 */
export const jsonArrayAggregator: Aggregator = aggregators.jsonArray

/**
 * The KPL aggregated-record format: magic `F3 89 9A C2`, a protobuf `AggregatedRecord` with
 * partition-key and explicit-hash-key tables, and the MD5 of the protobuf bytes. Aggregates records of
 * any partition keys (the producer aggregates per target shard); default aggregate size 51,200 bytes
 * (KPL's `AggregationMaxSize`). Reading a record without the magic or with a wrong MD5 yields that
 * record as a single plain user record.
 *
 * @since 0.1.0
 * @category aggregators
 */
export const kplAggregator: Aggregator = aggregators.kpl

// ---------------------------------------------------------------------------------------------
// processors
// ---------------------------------------------------------------------------------------------

/**
 * Raw bytes, one user record per Kinesis record.
 *
 * @since 0.1.0
 * @category processors
 */
export const bytes: Processor<Uint8Array> = internal.make({
  name: "bytes",
  serializer: serializers.bytes,
  aggregator: aggregators.single
})

/**
 * UTF-8 strings, one user record per Kinesis record.
 *
 * @since 0.1.0
 * @category processors
 */
export const string: Processor<string> = internal.make({
  name: "string",
  serializer: serializers.string,
  aggregator: aggregators.single
})

/**
 * JSON, one user record per Kinesis record.
 *
 * @since 0.1.0
 * @category processors
 */
export const json: Processor<unknown> = internal.make({
  name: "json",
  serializer: serializers.json,
  aggregator: aggregators.single
})

/**
 * JSON lines: each user record's JSON followed by `\n`, grouped by partition key.
 *
 * @since 0.1.0
 * @category processors
 */
export const jsonLines: Processor<unknown> = internal.make({
  name: "jsonLines",
  serializer: serializers.json,
  aggregator: aggregators.newline
})

/**
 * One JSON array of user records per Kinesis record, grouped by partition key.
 *
 * @since 0.1.0
 * @category processors
 */
export const jsonList: Processor<unknown> = internal.make({
  name: "jsonList",
  serializer: serializers.json,
  aggregator: aggregators.jsonArray
})

/**
 * MessagePack (msgpackr) in netstrings, grouped by partition key.
 *
 * @since 0.1.0
 * @category processors
 */
export const msgpack: Processor<unknown> = internal.make({
  name: "msgpack",
  serializer: serializers.msgpack,
  aggregator: aggregators.netstring
})

/**
 * Raw bytes in KPL aggregated records.
 *
 * @since 0.1.0
 * @category processors
 */
export const kplBytes: Processor<Uint8Array> = internal.make({
  name: "kplBytes",
  serializer: serializers.bytes,
  aggregator: aggregators.kpl
})

/**
 * UTF-8 strings in KPL aggregated records.
 *
 * @since 0.1.0
 * @category processors
 */
export const kplString: Processor<string> = internal.make({
  name: "kplString",
  serializer: serializers.string,
  aggregator: aggregators.kpl
})

/**
 * JSON in KPL aggregated records.
 *
 * @since 0.1.0
 * @category processors
 */
export const kplJson: Processor<unknown> = internal.make({
  name: "kplJson",
  serializer: serializers.json,
  aggregator: aggregators.kpl
})

/**
 * Typed values through a `Schema`: each value is encoded with the schema (sync) and then serialized by
 * `base`; read values are decoded with it. The base's aggregation is kept. A value the schema cannot
 * encode fails with `EncodeError`, a read value it cannot decode with `DecodeError`, each with the
 * `ParseError` as cause.
 *
 * @example
 * ```ts
 * import { Processor } from "@effect-kinesis/core"
 * import { Schema } from "effect"
 *
 * const Click = Schema.Struct({ url: Schema.String, at: Schema.DateFromString })
 * const clicks = Processor.schema(Click, Processor.kplJson)
 * ```
 *
 * @since 0.1.0
 * @category processors
 */
export const schema: <A, I>(
  schema: Schema.Schema<A, I, never>,
  base: Processor<I> | Processor<unknown>
) => Processor<A> = internal.schema

/**
 * `schema(S, json)`: typed JSON, one user record per Kinesis record.
 *
 * @since 0.1.0
 * @category processors
 */
export const schemaJson = <A, I>(schema: Schema.Schema<A, I, never>): Processor<A> => internal.schema(schema, json)

// ---------------------------------------------------------------------------------------------
// functions
// ---------------------------------------------------------------------------------------------

/**
 * Packs user records into Kinesis records in one go (an accumulator's `add` then `flush`).
 *
 * @since 0.1.0
 * @category producing
 */
export const aggregate: {
  <A>(
    entries: ReadonlyArray<Entry<A>>,
    options?: AccumulatorOptions
  ): (self: Processor<A>) => Either.Either<ReadonlyArray<Aggregate<A>>, EncodeError | RecordTooLarge>
  <A>(
    self: Processor<A>,
    entries: ReadonlyArray<Entry<A>>,
    options?: AccumulatorOptions
  ): Either.Either<ReadonlyArray<Aggregate<A>>, EncodeError | RecordTooLarge>
} = dual((args) => isProcessor(args[0]), internal.aggregate)

/**
 * The user records of one Kinesis record, or the first `DecodeError`.
 *
 * @since 0.1.0
 * @category consuming
 */
export const deaggregate: {
  (
    record: KinesisRecord,
    shardId: string
  ): <A>(self: Processor<A>) => Either.Either<ReadonlyArray<UserRecord<A>>, DecodeError>
  <A>(
    self: Processor<A>,
    record: KinesisRecord,
    shardId: string
  ): Either.Either<ReadonlyArray<UserRecord<A>>, DecodeError>
} = dual(3, <A>(self: Processor<A>, record: KinesisRecord, shardId: string) => self.deaggregate(record, shardId))
