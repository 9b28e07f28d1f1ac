/**
 * The Lambda handler: a Kinesis event-source-mapping event through the same decoding, scheduler and
 * poison-record policy as `Consumer.process`, answered with the partial batch response AWS defines for
 * `ReportBatchItemFailures`.
 *
 * Each shard of the event (from `eventSourceARN` and the `eventID` prefix) is one lane. A record that
 * fails for good under `"fail"` (or whose dead letter fails) stops its shard there: records after it
 * that have not started are not started, and the response names the Kinesis sequence number of the
 * shard's FIRST failed record, so Lambda retries the shard from it and nothing after it is lost.
 *
 * A dead-letter `Sink` runs for one invocation and is drained before the response is made: a poison
 * record completes once the sink pulled again after it, and a sink that fails (even as it drains) fails
 * the invocation (Lambda delivers the batch again).
 *
 * Owns nothing between invocations but the `ManagedRuntime` of `handler` (built on the first
 * invocation, dropped when it does not build, disposed by `dispose` or SIGTERM) and its `dedupe` window
 * (emptied when an invocation fails as a whole). Called by `Lambda.ts`.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { Buffer } from "node:buffer"
import type { ProcessingOptions } from "../Consumer.js"
import type * as Kinesis from "../Kinesis.js"
import { InvalidEvent } from "../KinesisError.js"
import type { BatchResponse, Handler, KinesisEventRecord } from "../Lambda.js"
import * as Processor from "../Processor.js"
import { deadLetterOf, decodeWorks, keyFunction, runnerOf, type Work } from "./consumer/process.js"
import { DecodeFailure, Dedupe, makePolicy } from "./process/policy.js"
import { type Lane, Scheduler } from "./process/scheduler.js"

/** @internal */
export interface Options<A, E2, EL, RL, RS> extends ProcessingOptions<A, E2, EL, RL, RS> {
  readonly processor?: Processor.Processor<A> | undefined
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

/** One shard of the event: its Kinesis records in event order. */
interface ShardRecords {
  readonly shardId: string
  readonly stream: string
  readonly records: Array<Kinesis.KinesisRecord>
}

const invalid = (reason: string, index?: number) => new InvalidEvent({ reason, index })

/** Checks the event's shape, decodes the base64 data, groups the records by shard (in event order). */
export const parseEvent = (event: unknown): Effect.Effect<ReadonlyArray<ShardRecords>, InvalidEvent> =>
  Effect.suspend(() => {
    if (typeof event !== "object" || event === null || !Array.isArray((event as { Records?: unknown }).Records)) {
      return Effect.fail(invalid("it has no Records array"))
    }
    const records = (event as { Records: ReadonlyArray<unknown> }).Records
    const shards = new Map<string, ShardRecords>()
    for (let index = 0; index < records.length; index++) {
      const r = records[index] as Partial<KinesisEventRecord> | null | undefined
      const k = r?.kinesis
      if (typeof r !== "object" || r === null || typeof k !== "object" || k === null) {
        return Effect.fail(invalid("the record has no kinesis object", index))
      }
      if (r.eventSource !== undefined && r.eventSource !== "aws:kinesis") {
        return Effect.fail(invalid(`eventSource is ${String(r.eventSource)}, not aws:kinesis`, index))
      }
      if (typeof k.data !== "string" || k.data.length % 4 !== 0 || !BASE64.test(k.data)) {
        return Effect.fail(invalid("kinesis.data is not base64", index))
      }
      if (typeof k.partitionKey !== "string" || typeof k.sequenceNumber !== "string") {
        return Effect.fail(invalid("kinesis.partitionKey or kinesis.sequenceNumber is not a string", index))
      }
      if (typeof k.approximateArrivalTimestamp !== "number") {
        return Effect.fail(invalid("kinesis.approximateArrivalTimestamp is not a number", index))
      }
      if (typeof r.eventID !== "string" || typeof r.eventSourceARN !== "string") {
        return Effect.fail(invalid("eventID or eventSourceARN is not a string", index))
      }
      const colon = r.eventID.indexOf(":")
      const shardId = colon > 0 ? r.eventID.slice(0, colon) : r.eventID
      const key = `${r.eventSourceARN} ${shardId}`
      let shard = shards.get(key)
      if (shard === undefined) {
        const slash = r.eventSourceARN.lastIndexOf("/")
        shard = { shardId, stream: slash >= 0 ? r.eventSourceARN.slice(slash + 1) : r.eventSourceARN, records: [] }
        shards.set(key, shard)
      }
      const data = Buffer.from(k.data, "base64")
      shard.records.push({
        sequenceNumber: k.sequenceNumber,
        partitionKey: k.partitionKey,
        approximateArrivalTimestamp: new Date(k.approximateArrivalTimestamp * 1000),
        data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      })
    }
    return Effect.succeed(Array.from(shards.values()))
  })

const sequenceOf = <A>(work: Work<A>): string =>
  work instanceof DecodeFailure ? work.record.sequenceNumber : work.sequenceNumber

/** Processes one event: the partial batch response. */
export const processEvent = <A, E2, R2, EL, RL, RS>(
  event: unknown,
  options: Options<A, E2, EL, RL, RS>,
  handler: (record: Processor.UserRecord<A>) => Effect.Effect<void, E2, R2>,
  dedupe: Dedupe<A> | undefined = options.dedupe === undefined
    ? undefined
    : new Dedupe<A>(options.dedupe.id, options.dedupe.window)
): Effect.Effect<BatchResponse, InvalidEvent | EL, R2 | RL | RS> =>
  Effect.scoped(Effect.gen(function*() {
    const shards = yield* parseEvent(event)
    const processor = options.processor ?? (Processor.json as Processor.Processor<A>)
    const scope = yield* Effect.scope
    // a dead-letter sink that fails (or ends) fails the invocation: Lambda retries the whole batch
    const sinkFailure = yield* Deferred.make<never, EL>()
    const deadLetter = yield* deadLetterOf<EL, RL>(
      options.onFailure,
      scope,
      (cause) => Deferred.failCause(sinkFailure, cause)
    )
    const policy = makePolicy<A, E2, R2, EL, RL, RS>({
      stream: shards[0]?.stream ?? "",
      aggregator: processor.aggregator,
      handler,
      retry: options.retry,
      deadLetter: deadLetter.offer,
      dedupe
    })
    // a record that did not complete stops its shard there (the response names its sequence number)
    const scheduler = new Scheduler<Work<A>, R2 | RL | RS>(runnerOf(policy, (item) => {
      if (item.index < item.lane.stopAt) item.lane.stopAt = item.index
      return false
    }))
    const keyOf = keyFunction<A>(options.order)
    const lanes: Array<Lane<Work<A>>> = []
    for (const shard of shards) {
      const { works } = decodeWorks(processor, shard.records, 0, shard.records.length, shard.shardId, undefined)
      const lane = scheduler.lane(works.length + 1, {
        advance: () => {},
        live: () => true,
        positionOf: (work) => work.position
      })
      for (const work of works) lane.admit(work, keyOf(work))
      lanes.push(lane)
    }
    yield* Effect.forkIn(scheduler.workers(options.concurrency ?? 16), scope)
    yield* Effect.raceFirst(
      Effect.forEach(lanes, (lane) => lane.awaitSettled, { discard: true }),
      Deferred.await(sinkFailure)
    )
    // the sink ends before the response: a sink failing as it ends fails the invocation
    yield* deadLetter.drain
    const batchItemFailures: Array<{ readonly itemIdentifier: string }> = []
    for (const lane of lanes) {
      const failed = lane.firstFailed
      if (failed !== undefined) batchItemFailures.push({ itemIdentifier: sequenceOf(failed.value!) })
    }
    return { batchItemFailures }
  }))

/** @internal */
export const handler = <A, E2, R2, EL, RL, RS, LE>(
  options: Options<A, E2, EL, RL, RS> & { readonly layer: Layer.Layer<R2 | RL | RS, LE> },
  handle: (record: Processor.UserRecord<A>) => Effect.Effect<void, E2, R2>
): Handler => {
  let runtime: ManagedRuntime.ManagedRuntime<R2 | RL | RS, LE> | undefined
  // one window per container: a batch retried after a failure skips what completed after it
  const newDedupe = () =>
    options.dedupe === undefined ? undefined : new Dedupe<A>(options.dedupe.id, options.dedupe.window)
  let dedupe = newDedupe()
  let onSigterm: (() => void) | undefined
  const dispose = async () => {
    const current = runtime
    runtime = undefined
    if (onSigterm !== undefined) process.off("SIGTERM", onSigterm)
    onSigterm = undefined
    if (current !== undefined) await current.dispose()
  }
  const start = () => {
    // built once per container, on the first invocation; released when Lambda shuts it down
    const current = ManagedRuntime.make(options.layer)
    runtime = current
    // after releasing, the signal is raised again: the process then ends as it would have without us
    onSigterm = () => {
      onSigterm = undefined
      void dispose().finally(() => process.kill(process.pid, "SIGTERM"))
    }
    process.once("SIGTERM", onSigterm)
    return current
  }
  const invoke = async (event: unknown): Promise<BatchResponse> => {
    const current = runtime ?? start()
    try {
      await current.runtime()
    } catch (error) {
      // a layer that did not build is not kept (what it acquired is released): the next invocation tries again
      if (runtime === current) await dispose()
      throw error
    }
    try {
      return await current.runPromise(processEvent(event, options, handle, dedupe))
    } catch (error) {
      // the whole batch comes again: forget what this invocation remembered (records that completed
      // before a dead-letter sink failed: they are processed again rather than half-remembered)
      dedupe = newDedupe()
      throw error
    }
  }
  return Object.assign(invoke, { dispose })
}
