/**
 * The output: the stream of user records the downstream pulls from one buffer (the shared one in
 * `stream` mode, a shard's own in `shards` mode). It takes a batch, decodes it (`decode.ts`) and emits
 * its records in chunks of at most `chunkSize`; a chunk counts as processed when the downstream pulls
 * again (`markProcessed`, `checkpoints.ts`).
 *
 * Owns, per output stream, the batch being emitted and what the last pull emitted. Writes `taken` and
 * `recordsDelivered` of the batch's `Reader`, and the consumer's delivered totals. Called by
 * `consumer.ts` (the `records` stream) and by the leases (a shard's stream in `shards` mode).
 *
 * Invariants: records are emitted in buffer order; nothing of a shard whose lease was lost or that is
 * being handed over is emitted after it stopped; after a record that failed to decode (policy `fail`)
 * the records before it are emitted, then the stream and the consumer fail. Decoding happens as the
 * downstream takes a batch (no Effect per record; a batch emitted whole is not copied).
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type * as Checkpointer from "../../Checkpointer.js"
import type { DecodeError } from "../../KinesisError.js"
import { messaging, span, SpanNames } from "../tracing.js"
import type { Buffer } from "./buffer.js"
import type { Checkpoints } from "./checkpoints.js"
import type { DecodePolicy } from "./decode.js"
import type { RecordImpl } from "./record.js"
import type { ConsumerError, ConsumerRecord } from "./shapes.js"
import type { Batch, Reader } from "./shard.js"
import type { Totals } from "./status.js"

export interface OutputContext<A, E> {
  /** The stream's name (for the spans). */
  readonly streamName: string
  readonly chunkSize: number
  readonly decoder: DecodePolicy<A, E>
  readonly checkpoints: Checkpoints<A, E>
  /** The consumer's delivered totals (read by the status). */
  readonly totals: Totals
  /** Fails the whole consumer. */
  readonly fatal: (cause: Cause.Cause<ConsumerError | E>) => Effect.Effect<void>
}

/**
 * A batch was taken and decoded into `count` user records: the reader's `taken` and delivered count,
 * the consumer's totals and the shard's metrics (also called by `Consumer.process`, `process.ts`).
 */
export const delivered = <A, E>(totals: Totals, taken: Batch<A, E>, count: number): void => {
  const reader = taken.reader
  reader.taken = taken.last
  reader.recordsDelivered += count
  totals.records += count
  totals.bytes += taken.bytes
  if (reader.meters !== undefined) {
    reader.meters.records(count)
    reader.meters.bytes(taken.bytes)
  }
}

/** Makes the output stream of a buffer. */
export type Output<A, E> = (
  buffer: Buffer<Batch<A, E>, ConsumerError | E>
) => Stream.Stream<ConsumerRecord<A>, ConsumerError | E>

/**
 * The records of the batches one output takes, decoded as it takes them, and emitted in chunks of
 * at most `chunkSize`. A chunk counts as processed when the downstream pulls again.
 */
export const makeOutput = <A, E>(ctx: OutputContext<A, E>): Output<A, E> => (buffer) => {
  const { checkpoints, chunkSize, decoder, totals } = ctx
  let batch: Batch<A, E> | undefined
  let decoded: Array<RecordImpl<A>> = []
  let next = 0
  /** The batch stopped at a record that failed to decode (policy `fail`): the stream fails after it. */
  let failure: DecodeError | undefined
  /** What the last pull emitted: processed once the downstream pulls again. */
  let emittedReader: Reader<A, E> | undefined
  let emittedPosition: Checkpointer.Checkpoint = { sequenceNumber: "0" }
  let emittedCount = 0

  /** Decodes a batch taken from the buffer, in its span when a tracer is installed (one per batch). */
  const decodeBatch = (taken: Batch<A, E>): Effect.Effect<void> =>
    span(SpanNames.deliver, "internal", () => ({
      ...messaging("process", ctx.streamName, taken.reader.shard.shardId, taken.count),
      "effect_kinesis.bytes": taken.bytes
    }), (traced) => Effect.suspend(() => decodeNow(taken, traced)))

  const decodeNow = (taken: Batch<A, E>, traced: boolean): Effect.Effect<void> => {
    const reader = taken.reader
    const result = decoder.decode(taken, checkpoints.commit(reader))
    const out = result.records
    batch = taken
    decoded = out
    next = 0
    failure = result.error
    delivered(totals, taken, out.length)
    // Kinesis records (the batch's count) may hold more user records (KPL) or fewer (skipped)
    return traced
      ? Effect.zipRight(Effect.annotateCurrentSpan("effect_kinesis.user_records", out.length), decoder.report(result))
      : decoder.report(result)
  }

  const emit = (): Chunk.Chunk<ConsumerRecord<A>> => {
    const end = Math.min(decoded.length, next + chunkSize)
    const chunk = next === 0 && end === decoded.length ? decoded : decoded.slice(next, end)
    next = end
    emittedReader = batch!.reader
    emittedCount = chunk.length
    // the whole batch emitted: the position after its last Kinesis record (it covers records that
    // decoded to nothing or were skipped); else after the last record emitted
    emittedPosition = end === decoded.length && failure === undefined ? batch!.last : decoded[end - 1]!.position
    return Chunk.unsafeFromArray<ConsumerRecord<A>>(chunk)
  }

  const pull: Effect.Effect<Chunk.Chunk<ConsumerRecord<A>>, Option.Option<ConsumerError | E>> = Effect.suspend(
    () => {
      if (emittedReader !== undefined) {
        checkpoints.markProcessed(emittedReader, emittedPosition, emittedCount)
        emittedReader = undefined
      }
      if (batch !== undefined) {
        const reader = batch.reader
        if (next < decoded.length) {
          if (!reader.handingOff && !(reader.stopped && !reader.ending)) return Effect.succeed(emit())
          // the lease was lost or is being handed over: the rest of the batch is not delivered here
          if (next > 0) reader.taken = decoded[next - 1]!.position
          checkpoints.checkHandedOver(reader)
        } else if (decoded.length === 0 && failure === undefined) {
          checkpoints.markProcessed(reader, batch.last, 0) // nothing to deliver (all skipped): past it at once
        }
        batch = undefined
        decoded = []
        next = 0
      }
      if (failure !== undefined) {
        const error = failure
        // the records before it are delivered; then the consumer fails (nothing after it is delivered)
        return Effect.zipRight(ctx.fatal(Cause.fail(error)), Effect.fail(Option.some(error)))
      }
      return Effect.flatMap(Effect.mapError(buffer.take, Option.some), (taken) =>
        Option.isNone(taken)
          ? Effect.fail(Option.none())
          : Effect.zipRight(decodeBatch(taken.value), pull))
    }
  )
  return Stream.repeatEffectChunkOption(pull)
}
