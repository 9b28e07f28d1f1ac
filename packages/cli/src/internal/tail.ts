/**
 * `effect-kinesis tail STREAM`: records printed as they are read, through `Consumer.make`, which
 * follows resharding. Checkpoints are manual: after each chunk is written to stdout, the last written
 * record of each shard is checkpointed — so with `--limit` (or Ctrl-C) the checkpoint is exactly what
 * was printed, never a record that was not.
 *
 * @internal
 */
import type * as Checkpointer from "@effect-kinesis/core/Checkpointer"
import * as Consumer from "@effect-kinesis/core/Consumer"
import type * as Kinesis from "@effect-kinesis/core/Kinesis"
import type * as Processor from "@effect-kinesis/core/Processor"
import type * as StreamAddress from "@effect-kinesis/core/StreamAddress"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { ProcessorName, TailFormat } from "./choices.js"
import {
  checkpointerLayer,
  type Connection,
  describeTarget,
  type GroupOptions,
  kinesisLayer,
  memoryCheckpointer,
  parseStream,
  resolveStore
} from "./connection.js"
import { logged, withDeadline } from "./contact.js"
import { UsageError } from "./errors.js"
import * as Format from "./format.js"
import { select, valueJson, valueText } from "./processors.js"

/** @internal */
export interface TailOptions extends Connection, GroupOptions {
  readonly stream: string
  readonly from: string
  readonly processor: Option.Option<ProcessorName>
  readonly format: TailFormat
  readonly limit: Option.Option<number>
  /** The time the consumer may take to make contact (list the shards, take its leases). */
  readonly timeout: Duration.Duration
}

/** The consumer's default retry schedule (without end), each retry logged and recorded for `--timeout`. */
const retrySchedule = logged(Consumer.defaults.retrySchedule)

/** Where shards without a checkpoint start. @internal */
export type Start =
  | { readonly iteratorType: "TRIM_HORIZON" }
  | { readonly iteratorType: "LATEST" }
  | { readonly iteratorType: "AT_TIMESTAMP"; readonly timestamp: Date }

/** `trim-horizon`, `latest` or `timestamp:ISO-8601` (e.g. `timestamp:2026-11-30T08:00:00Z`). @internal */
export const parseFrom = (input: string): Effect.Effect<Start, UsageError> => {
  const text = input.trim()
  const lower = text.toLowerCase()
  if (lower === "trim-horizon" || lower === "trim_horizon") return Effect.succeed({ iteratorType: "TRIM_HORIZON" })
  if (lower === "latest") return Effect.succeed({ iteratorType: "LATEST" })
  if (lower.startsWith("timestamp:")) {
    const value = text.slice("timestamp:".length)
    const timestamp = new Date(/^\d+$/.test(value) ? Number(value) : value)
    return Number.isNaN(timestamp.getTime())
      ? Effect.fail(new UsageError({ message: `--from ${text}: not a date (use timestamp:2026-11-30T08:00:00Z)` }))
      : Effect.succeed({ iteratorType: "AT_TIMESTAMP", timestamp })
  }
  return Effect.fail(
    new UsageError({
      message: `--from must be trim-horizon, latest or timestamp:ISO-8601, got ${JSON.stringify(text)}`
    })
  )
}

const line = <A>(format: TailFormat, record: Consumer.ConsumerRecord<A>): string => {
  switch (format) {
    case "raw":
      return valueText(record.value)
    case "json":
      return JSON.stringify({
        shardId: record.shardId,
        sequenceNumber: record.sequenceNumber,
        subSequenceNumber: record.subSequenceNumber,
        partitionKey: record.partitionKey,
        explicitHashKey: record.explicitHashKey,
        approximateArrivalTimestamp: Format.iso(record.approximateArrivalTimestamp),
        value: valueJson(record.value)
      })
    case "pretty": {
      const sequence = record.subSequenceNumber === undefined
        ? record.sequenceNumber
        : `${record.sequenceNumber}/${record.subSequenceNumber}`
      return `${Format.iso(record.approximateArrivalTimestamp)}  ${record.shardId}  seq=${sequence}  ` +
        `key=${record.partitionKey}  ${valueText(record.value)}`
    }
  }
}

const consume = <A>(
  address: StreamAddress.StreamAddress,
  processor: Processor.Processor<A>,
  start: Start,
  options: TailOptions,
  contacted: Effect.Effect<void>
): Effect.Effect<void, Consumer.ConsumerError, Kinesis.Kinesis | Checkpointer.Checkpointer> =>
  Effect.gen(function*() {
    const consumer = yield* Consumer.make({
      stream: address,
      processor,
      iteratorType: start.iteratorType,
      timestamp: start.iteratorType === "AT_TIMESTAMP" ? start.timestamp : undefined,
      checkpoint: "manual",
      retrySchedule
    })
    // the shards are listed and the leases taken: from here a quiet stream is waited on without end
    yield* contacted
    const started = yield* consumer.status
    yield* Effect.logDebug(
      `tail: reading ${started.totals.reading} of ${started.shards.length} shard(s) of ${started.stream}`
    )
    const records = Option.match(options.limit, {
      onNone: () => consumer.records,
      onSome: (limit) => Stream.take(consumer.records, limit)
    })
    yield* Stream.runForEachChunk(records, (chunk) =>
      Effect.gen(function*() {
        if (Chunk.isEmpty(chunk)) return
        const text = Chunk.toReadonlyArray(chunk).map((record) => line(options.format, record)).join("\n")
        yield* Format.out(`${text}\n`)
        // everything printed is processed: checkpoint the last record of each shard
        const last = new Map<string, Consumer.ConsumerRecord<A>>()
        for (const record of chunk) last.set(record.shardId, record)
        yield* Effect.forEach(last.values(), (record) =>
          record.checkpoint.pipe(
            Effect.catchAll((error) =>
              Format.errLine(
                `effect-kinesis: warning: checkpoint of ${record.shardId} failed: ${error._tag}: ${error.message}`
              )
            )
          ), { discard: true })
      }).pipe(
        // printed and checkpointed together: Ctrl-C waits for the chunk's checkpoints (bounded by the
        // store's timeouts), so the group resumes right after the last record printed
        Effect.uninterruptible
      ))
  }).pipe(Effect.scoped)

/** @internal */
export const tail = (options: TailOptions) =>
  Effect.gen(function*() {
    const address = yield* parseStream(options.stream)
    const start = yield* parseFrom(options.from)
    const store = yield* resolveStore(options)
    if (Option.isSome(options.limit) && options.limit.value < 1) {
      return yield* new UsageError({ message: "--limit must be at least 1" })
    }
    const selected = select(Option.getOrElse(options.processor, (): ProcessorName => "string"))
    const program = (contacted: Effect.Effect<void>) =>
      selected.kind === "text"
        ? consume(address, selected.processor, start, options, contacted)
        : selected.kind === "json"
        ? consume(address, selected.processor, start, options, contacted)
        : consume(address, selected.processor, start, options, contacted)
    const checkpointer = store === undefined
      ? memoryCheckpointer
      : checkpointerLayer(store, options, { createTable: true })
    const waitingFor = describeTarget(options, store)
    yield* Effect.logDebug(`tail: connecting to ${waitingFor} (--timeout ${Duration.format(options.timeout)})`)
    // the layers are built inside the deadline: a checkpoint store that does not answer is bounded too
    return yield* withDeadline(
      { timeout: options.timeout, waitingFor },
      (contacted) => program(contacted).pipe(Effect.provide(Layer.merge(kinesisLayer(options, address), checkpointer)))
    )
  })
