/**
 * Processors: the accumulator (producer side) and deaggregation (consumer side) over a serializer and
 * an aggregator. Plain loops over arrays; failures are returned as values, never thrown.
 *
 * @internal
 */
import * as Either from "effect/Either"
import { pipeArguments } from "effect/Pipeable"
import type * as Schema from "effect/Schema"
import type { KinesisRecord } from "../../Kinesis.js"
import { DecodeError, EncodeError, RecordTooLarge } from "../../KinesisError.js"
import type {
  Accumulator,
  AccumulatorOptions,
  Aggregate,
  AggregateBuilder,
  Aggregator,
  Entry,
  LenientResult,
  Processor,
  Serializer,
  UserRecord
} from "../../Processor.js"
import * as aggregators from "./aggregators.js"
import { MalformedRecord } from "./malformed.js"
import * as serializers from "./serializers.js"
import { utf8Length } from "./utf8.js"

import type * as Api from "../../Processor.js"

export const TypeId: Api.TypeId = Symbol.for("@effect-kinesis/core/Processor") as Api.TypeId

export const defaults = {
  maxRecordSize: 1_048_576,
  maxRecordSizeLimit: 10_485_760,
  kplMaxAggregateSize: 51_200
} as const

// ---------------------------------------------------------------------------------------------
// producer side
// ---------------------------------------------------------------------------------------------

/** One Kinesis record being built, with the user records it carries. */
class Group<A, E extends Entry<A>> {
  readonly entries: Array<E> = []
  /** data + partition key bytes so far */
  size = 0
  constructor(
    readonly builder: AggregateBuilder,
    /** the Kinesis record's partition key: the first user record's */
    public partitionKey: string,
    public partitionKeyBytes: number,
    public explicitHashKey: string | undefined
  ) {}
}

const checkSize = (name: string, value: number, max: number): number => {
  if (!Number.isSafeInteger(value) || value <= 0 || value > max) {
    throw new RangeError(`${name} must be an integer in [1, ${max}], got ${value}`)
  }
  return value
}

/**
 * Encodes one user record and checks it: `EncodeError` when the serializer throws or the aggregator
 * refuses the bytes, `RecordTooLarge` when it cannot fit a Kinesis record alone. Shared by the
 * accumulator and the producer's path for processors that do not aggregate. @internal
 */
export const encodeEntry = <A>(
  encode: Serializer<A>["encode"],
  validate: Aggregator["validate"],
  dataLengthOf: Aggregator["dataLengthOf"],
  entry: Entry<A>,
  partitionKeyBytes: number,
  maxRecordSize: number
): Uint8Array | EncodeError | RecordTooLarge => {
  let item: Uint8Array
  try {
    item = encode(entry.value)
  } catch (cause) {
    return new EncodeError({ record: entry.value, cause })
  }
  if (validate !== undefined) {
    const reason = validate(item)
    if (reason !== undefined) return new EncodeError({ record: entry.value, cause: new Error(reason) })
  }
  const ehk = entry.explicitHashKey
  // an explicit hash key is decimal digits (anything else is refused by Kinesis): 1 byte each
  const size = dataLengthOf(item.length, partitionKeyBytes, ehk === undefined ? undefined : ehk.length) +
    partitionKeyBytes
  if (size > maxRecordSize) {
    return new RecordTooLarge({ size, maxSize: maxRecordSize, partitionKey: entry.partitionKey, record: entry.value })
  }
  return item
}

class AccumulatorImpl<A, E extends Entry<A>> implements Accumulator<A, E> {
  private readonly maxRecordSize: number
  private readonly maxAggregateSize: number
  private readonly explicitHashKey: string | undefined
  private readonly serializer: Serializer<A>
  private readonly aggregator: Aggregator
  /** KPL: the one aggregate being built (the caller groups by shard). */
  private current: Group<A, E> | undefined = undefined
  /** Other aggregators: one aggregate per partition key, and per (explicit hash key, partition key). */
  private readonly byKey = new Map<string, Group<A, E>>()
  private readonly byHashAndKey = new Map<string, Group<A, E>>()
  pendingRecords = 0
  pendingBytes = 0

  constructor(processor: Processor<A>, options: AccumulatorOptions | undefined) {
    this.serializer = processor.serializer
    this.aggregator = processor.aggregator
    this.maxRecordSize = checkSize(
      "maxRecordSize",
      options?.maxRecordSize ?? defaults.maxRecordSize,
      defaults.maxRecordSizeLimit
    )
    const aggregateSize = options?.maxAggregateSize ?? processor.maxAggregateSize
    this.maxAggregateSize = aggregateSize === undefined
      ? this.maxRecordSize
      : Math.min(checkSize("maxAggregateSize", aggregateSize, Number.MAX_SAFE_INTEGER), this.maxRecordSize)
    this.explicitHashKey = options?.explicitHashKey
  }

  add(entries: ReadonlyArray<E>): Either.Either<ReadonlyArray<Aggregate<A, E>>, EncodeError | RecordTooLarge> {
    const { aggregator, maxRecordSize, serializer } = this
    const { dataLengthOf, validate } = aggregator
    const encode = serializer.encode
    const n = entries.length
    // 1. serialize and check every entry first: on a failure the accumulator is unchanged
    const items = new Array<Uint8Array>(n)
    const keyBytes = new Array<number>(n)
    for (let i = 0; i < n; i++) {
      const entry = entries[i]
      const pkBytes = entry.partitionKeyBytes ?? utf8Length(entry.partitionKey)
      const item = encodeEntry(encode, validate, dataLengthOf, entry, pkBytes, maxRecordSize)
      if (!(item instanceof Uint8Array)) return Either.left(item)
      items[i] = item
      keyBytes[i] = pkBytes
    }
    // 2. pack
    const out: Array<Aggregate<A, E>> = []
    if (aggregator === aggregators.single) {
      // one user record per Kinesis record, its bytes unchanged: no builder needed
      for (let i = 0; i < n; i++) {
        const entry = entries[i]
        const data = items[i]
        out.push({
          data,
          partitionKey: entry.partitionKey,
          explicitHashKey: entry.explicitHashKey,
          records: [entry],
          size: data.length + keyBytes[i]
        })
      }
      return Either.right(out)
    }
    if (aggregator.maxRecords === 1) {
      for (let i = 0; i < n; i++) {
        const entry = entries[i]
        const builder = aggregator.builder()
        builder.tryAdd(items[i], entry.partitionKey, entry.explicitHashKey, maxRecordSize)
        const group = new Group<A, E>(builder, entry.partitionKey, keyBytes[i], entry.explicitHashKey)
        group.entries.push(entry)
        out.push(complete(group))
      }
      return Either.right(out)
    }
    const carries = aggregator.carriesPartitionKeys
    const limit = this.maxAggregateSize
    const maxRecords = aggregator.maxRecords
    for (let i = 0; i < n; i++) {
      const entry = entries[i]
      const item = items[i]
      const { explicitHashKey, partitionKey } = entry
      let group = carries ? this.current : this.lookup(partitionKey, explicitHashKey)
      if (
        group !== undefined &&
        !group.builder.tryAdd(item, partitionKey, explicitHashKey, limit - group.partitionKeyBytes)
      ) {
        this.complete(group, out)
        group = undefined
      }
      if (group === undefined) {
        group = new Group<A, E>(
          aggregator.builder(),
          partitionKey,
          keyBytes[i],
          carries ? (this.explicitHashKey ?? explicitHashKey) : explicitHashKey
        )
        if (carries) this.current = group
        else if (explicitHashKey === undefined) this.byKey.set(partitionKey, group)
        else this.byHashAndKey.set(hashAndKey(explicitHashKey, partitionKey), group)
        group.builder.tryAdd(item, partitionKey, explicitHashKey, limit - group.partitionKeyBytes)
      }
      group.entries.push(entry)
      const size = group.builder.dataLength + group.partitionKeyBytes
      this.pendingBytes += size - group.size
      this.pendingRecords++
      group.size = size
      if (size >= limit || group.entries.length >= maxRecords) this.complete(group, out)
    }
    return Either.right(out)
  }

  flush(): ReadonlyArray<Aggregate<A, E>> {
    const out: Array<Aggregate<A, E>> = []
    if (this.current !== undefined) this.complete(this.current, out)
    for (const group of this.byKey.values()) out.push(complete(group))
    for (const group of this.byHashAndKey.values()) out.push(complete(group))
    this.byKey.clear()
    this.byHashAndKey.clear()
    this.pendingBytes = 0
    this.pendingRecords = 0
    return out
  }

  private lookup(partitionKey: string, explicitHashKey: string | undefined): Group<A, E> | undefined {
    return explicitHashKey === undefined
      ? this.byKey.get(partitionKey)
      : this.byHashAndKey.get(hashAndKey(explicitHashKey, partitionKey))
  }

  private complete(group: Group<A, E>, out: Array<Aggregate<A, E>>): void {
    if (group === this.current) {
      this.current = undefined
    } else if (group.explicitHashKey === undefined) {
      this.byKey.delete(group.partitionKey)
    } else {
      this.byHashAndKey.delete(hashAndKey(group.explicitHashKey, group.partitionKey))
    }
    this.pendingBytes -= group.size
    this.pendingRecords -= group.entries.length
    out.push(complete(group))
  }
}

// an explicit hash key is a decimal string: it cannot contain the separator
const hashAndKey = (explicitHashKey: string, partitionKey: string): string => `${explicitHashKey}\u0000${partitionKey}`

const complete = <A, E extends Entry<A>>(group: Group<A, E>): Aggregate<A, E> => {
  const data = group.builder.build()
  return {
    data,
    partitionKey: group.partitionKey,
    explicitHashKey: group.explicitHashKey,
    records: group.entries,
    size: data.length + group.partitionKeyBytes
  }
}

// ---------------------------------------------------------------------------------------------
// consumer side
// ---------------------------------------------------------------------------------------------

const subSequenceOf = (cause: unknown): number | undefined =>
  cause instanceof MalformedRecord ? cause.subSequenceNumber : undefined

/** Receives one decoded user record. @internal */
export type DecodedSink<A> = (
  value: A,
  subSequenceNumber: number | undefined,
  partitionKey: string,
  explicitHashKey: string | undefined
) => void

/**
 * Decodes the user records of a Kinesis record into `emit`, in order, and returns the first failure
 * (a `DecodeError` naming the user record when it is known); the records emitted before it stay
 * emitted, so a caller that wants all or nothing drops them. The consumer builds its records here
 * directly (no intermediate `UserRecord`s or arrays). @internal
 */
export const decodeRecord = <A>(
  serializer: Serializer<A>,
  aggregator: Aggregator,
  record: KinesisRecord,
  shardId: string,
  emit: DecodedSink<A>
): DecodeError | undefined => {
  const decode = serializer.decode
  // set while a user record is being decoded: a throw then names it
  let decoding = false
  let current: number | undefined
  try {
    aggregator.unpack(record, (data, subSequenceNumber, partitionKey, explicitHashKey) => {
      decoding = true
      current = subSequenceNumber
      const value = decode(data)
      decoding = false
      emit(value, subSequenceNumber, partitionKey, explicitHashKey)
    })
  } catch (cause) {
    return new DecodeError({
      shardId,
      sequenceNumber: record.sequenceNumber,
      subSequenceNumber: decoding ? current : subSequenceOf(cause),
      cause
    })
  }
  return undefined
}

/**
 * Like `decodeRecord`, but a user record that fails to decode is reported (`onFailure`) and skipped,
 * and the others are emitted; a record whose framing is broken reports one failure. @internal
 */
export const decodeRecordLenient = <A>(
  serializer: Serializer<A>,
  aggregator: Aggregator,
  record: KinesisRecord,
  shardId: string,
  emit: DecodedSink<A>,
  onFailure: (error: DecodeError) => void
): void => {
  const decode = serializer.decode
  const sequenceNumber = record.sequenceNumber
  try {
    aggregator.unpack(record, (data, subSequenceNumber, partitionKey, explicitHashKey) => {
      let value: A
      try {
        value = decode(data)
      } catch (cause) {
        onFailure(new DecodeError({ shardId, sequenceNumber, subSequenceNumber, cause }))
        return
      }
      emit(value, subSequenceNumber, partitionKey, explicitHashKey)
    })
  } catch (cause) {
    onFailure(new DecodeError({ shardId, sequenceNumber, subSequenceNumber: subSequenceOf(cause), cause }))
  }
}

const deaggregate = <A>(
  serializer: Serializer<A>,
  aggregator: Aggregator,
  record: KinesisRecord,
  shardId: string
): Either.Either<ReadonlyArray<UserRecord<A>>, DecodeError> => {
  const out: Array<UserRecord<A>> = []
  const { approximateArrivalTimestamp, sequenceNumber } = record
  const error = decodeRecord(
    serializer,
    aggregator,
    record,
    shardId,
    (value, subSequenceNumber, partitionKey, explicitHashKey) => {
      out.push({
        value,
        shardId,
        sequenceNumber,
        subSequenceNumber,
        partitionKey,
        explicitHashKey,
        approximateArrivalTimestamp
      })
    }
  )
  return error === undefined ? Either.right(out) : Either.left(error)
}

const deaggregateLenient = <A>(
  serializer: Serializer<A>,
  aggregator: Aggregator,
  record: KinesisRecord,
  shardId: string
): LenientResult<A> => {
  const records: Array<UserRecord<A>> = []
  const failures: Array<DecodeError> = []
  const { approximateArrivalTimestamp, sequenceNumber } = record
  decodeRecordLenient(
    serializer,
    aggregator,
    record,
    shardId,
    (value, subSequenceNumber, partitionKey, explicitHashKey) => {
      records.push({
        value,
        shardId,
        sequenceNumber,
        subSequenceNumber,
        partitionKey,
        explicitHashKey,
        approximateArrivalTimestamp
      })
    },
    (error) => failures.push(error)
  )
  return { records, failures }
}

// ---------------------------------------------------------------------------------------------
// constructors
// ---------------------------------------------------------------------------------------------

const ProcessorProto = {
  [TypeId]: TypeId,
  pipe() {
    // eslint-disable-next-line prefer-rest-params
    return pipeArguments(this, arguments)
  }
}

export const make = <A>(options: {
  readonly name: string
  readonly serializer: Serializer<A>
  readonly aggregator: Aggregator
  readonly maxAggregateSize?: number | undefined
}): Processor<A> => {
  const { aggregator, serializer } = options
  const self: Processor<A> = Object.assign(Object.create(ProcessorProto), {
    name: options.name,
    serializer,
    aggregator,
    maxAggregateSize: options.maxAggregateSize ?? aggregator.defaultMaxAggregateSize,
    accumulator: <E extends Entry<A> = Entry<A>>(accumulatorOptions?: AccumulatorOptions): Accumulator<A, E> =>
      new AccumulatorImpl<A, E>(self, accumulatorOptions),
    deaggregate: (record: KinesisRecord, shardId: string) => deaggregate(serializer, aggregator, record, shardId),
    deaggregateLenient: (record: KinesisRecord, shardId: string) =>
      deaggregateLenient(serializer, aggregator, record, shardId)
  })
  return self
}

export const schema = <A, I>(
  schema: Schema.Schema<A, I, never>,
  base: Processor<I> | Processor<unknown>
): Processor<A> =>
  make({
    name: `schema(${base.name})`,
    serializer: serializers.schema(schema, base.serializer),
    aggregator: base.aggregator,
    maxAggregateSize: base.maxAggregateSize
  })

export const aggregate = <A>(
  self: Processor<A>,
  entries: ReadonlyArray<Entry<A>>,
  options?: AccumulatorOptions
): Either.Either<ReadonlyArray<Aggregate<A>>, EncodeError | RecordTooLarge> => {
  const accumulator = self.accumulator(options)
  return Either.map(accumulator.add(entries), (completed) => [...completed, ...accumulator.flush()])
}
