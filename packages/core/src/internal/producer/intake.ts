/**
 * The intake: how values become records in lanes. It turns each value (or `Producer.record`) into a
 * user record with its partition key (the user's, or the producer's made-up one), checks the key,
 * encodes the value with the processor, and queues the record in its lane — directly for processors
 * that send one user record per Kinesis record, through the lane's accumulator for aggregating ones
 * (KPL). It owns the made-up key, whether keys of the user's were seen (the order rule applies only
 * then) and a reused slice buffer; it counts what it accepts in the ledger and wakes the dispatcher.
 *
 * Called by the API (`toItem`, `addAll`, `addSlice` from `put`, `send`, `offer`), by the dispatcher
 * (`flushAccumulator` when an accumulator is due) and by the router when a reshard closes a shard
 * (`reroute`).
 *
 * Invariants: the records of one call are added in order, those before a bad one are in and the call
 * reports the bad one's error; an accumulator's group is added all or nothing; after a reshard, KPL
 * aggregates not yet sent go back through the new map in order.
 *
 * @internal
 */
import type * as Deferred from "effect/Deferred"
import * as Either from "effect/Either"
import { type EncodeError, InvalidPartitionKey, type RecordTooLarge } from "../../KinesisError.js"
import type * as Processor from "../../Processor.js"
import * as Aggregators from "../processor/aggregators.js"
import { encodeEntry } from "../processor/processor.js"
import { utf8Length } from "../processor/utf8.js"
import type { Gate } from "./gate.js"
import type { Lane } from "./lane.js"
import type { Ledger } from "./ledger.js"
import { checkKey, countOf, Item, itemsOf, type Pending } from "./records.js"
import type { Router } from "./router.js"
import { type Delivery, isProducerRecord, type ProducerError, type ProducerRecord, type PutOptions } from "./shapes.js"

/** Values `offer` turns into records before it sends what is due (about a request's worth). */
export const OFFER_SLICE = 500

/** What the intake works with. */
export interface IntakeContext<A> {
  readonly processor: Processor.Processor<A>
  readonly maxRecordSize: number
  /** The user's key function, if any. */
  readonly partitionKey: ((value: A) => string) | undefined
  readonly router: Router<A>
  readonly ledger: Ledger<A>
  readonly gate: Gate<A>
}

/** @internal */
export const makeIntake = <A>(ctx: IntakeContext<A>) => {
  const { gate, ledger, maxRecordSize, processor, router } = ctx
  const notify = () => gate.notify()
  /** Whether a record with a key of the user's came (until then no ordering rule can apply). */
  let userKeys = false

  /**
   * A KPL aggregate is routed by the explicit hash key of the shard it was built for: sent after a
   * split it would land in the child holding that key, with user records whose keys belong to the
   * other child (the consumer reads both children at once: their order across them would be lost).
   * So what a closed shard's lane has not sent yet goes back through the new map, in order.
   * (A request already in flight when the reshard happened cannot be recalled.)
   */
  const reroute = (lane: Lane<A>, now: number) => {
    if (!router.carriesHashKey) return // other records are routed by their own keys: they find the right child
    flushAccumulator(lane, now)
    if (lane.ready.size === 0) return
    const pending = lane.ready.waiting()
    lane.ready.clear()
    lane.readyBytes = 0
    lane.readySince = Infinity
    const items: Array<Item<A>> = []
    for (const p of pending) {
      ledger.outstandingBytes -= p.size
      ledger.outstandingRecords -= countOf(p)
      ledger.retries.delete(p)
      for (const r of itemsOf(p)) items.push(r)
    }
    const groups: Array<ReadonlyArray<Item<A>>> = []
    const error = addItems(items, now, groups)
    if (error !== undefined) {
      // they were encoded once already; should one fail now (a value changed since), it is reported
      const added = new Set(groups.flat())
      const failed = items.filter((item) => !added.has(item)).map((item): Pending<A> => {
        item.size = 0
        ledger.outstandingRecords += 1
        ledger.retryInfo(item).lastCode = error._tag
        ledger.retryInfo(item).lastMessage = error.message
        return item
      })
      ledger.fail(failed)
    }
  }

  /**
   * One user record per Kinesis record, bytes unchanged (`Processor.json`, `bytes`, `string`, ...):
   * the producer encodes each item itself and sends it as is, with no accumulator in between. The
   * checks and errors are the accumulator's (`Processor.Accumulator.add`).
   */
  const direct = processor.aggregator === Aggregators.single
  const { dataLengthOf, validate } = processor.aggregator
  const encode = processor.serializer.encode
  const encodeItem = (item: Item<A>): EncodeError | RecordTooLarge | undefined => {
    const pkBytes = item.partitionKeyBytes ?? utf8Length(item.partitionKey)
    const data = encodeEntry(encode, validate, dataLengthOf, item, pkBytes, maxRecordSize)
    if (!(data instanceof Uint8Array)) return data
    item.data = data
    item.size = data.length + pkBytes // the single aggregator sends the bytes as they are
    return undefined
  }

  /** Encodes an item of a non-aggregating processor and queues it in its lane. */
  const addDirect = (item: Item<A>, now: number): EncodeError | RecordTooLarge | undefined => {
    const error = encodeItem(item)
    if (error !== undefined) return error
    queueDirect(item, now)
    return undefined
  }
  const queueDirect = (item: Item<A>, now: number): void => {
    const lane = router.laneFor(item)
    lane.ready.push(item)
    lane.readyBytes += item.size
    ledger.outstandingBytes += item.size
    ledger.outstandingRecords++
    if (now < lane.readySince) lane.readySince = now
  }

  /** Moves a lane's accumulator contents to its ready queue. */
  const flushAccumulator = (lane: Lane<A>, since: number) => {
    ledger.accumulatingBytes -= lane.accumulator.pendingBytes
    pushReady(lane, lane.accumulator.flush(), since)
  }

  const pushReady = (lane: Lane<A>, aggregates: ReadonlyArray<Processor.Aggregate<A, Item<A>>>, since: number) => {
    for (const aggregate of aggregates) {
      lane.ready.push(aggregate)
      lane.readyBytes += aggregate.size
      ledger.outstandingBytes += aggregate.size
    }
    if (aggregates.length > 0 && since < lane.readySince) lane.readySince = since
  }

  /**
   * Adds user records (already validated) to their lanes. All of `items` or none (the accumulator's
   * add is all-or-nothing); returns the error of the first item that cannot be encoded or is too large.
   */
  const addItems = (
    items: ReadonlyArray<Item<A>>,
    now: number,
    added?: Array<ReadonlyArray<Item<A>>>
  ): EncodeError | RecordTooLarge | undefined => {
    if (direct) {
      // each item is its own Kinesis record: encoded and queued one by one, so those before a bad
      // one are in and those after it are not (what the all-or-nothing groups below amount to)
      for (let i = 0; i < items.length; i++) {
        const error = addDirect(items[i]!, now)
        if (error !== undefined) {
          added?.push(items.slice(0, i))
          return error
        }
      }
      added?.push(items)
      return undefined
    }
    // group by lane, keeping order within each lane
    const groups = new Map<Lane<A>, Array<Item<A>>>()
    for (const item of items) {
      const lane = router.laneFor(item)
      const group = groups.get(lane)
      if (group === undefined) groups.set(lane, [item])
      else group.push(item)
    }
    for (const [lane, group] of groups) {
      const wasEmpty = lane.accumulator.pendingRecords === 0
      const pendingBefore = lane.accumulator.pendingBytes
      const result = lane.accumulator.add(group)
      if (Either.isLeft(result)) return result.left
      ledger.accumulatingBytes += lane.accumulator.pendingBytes - pendingBefore
      ledger.outstandingRecords += group.length
      added?.push(group)
      if (wasEmpty && lane.accumulator.pendingRecords > 0) lane.accumulatingSince = now
      pushReady(lane, result.right, wasEmpty ? now : lane.accumulatingSince)
      if (lane.accumulator.pendingRecords === 0) lane.accumulatingSince = 0
    }
    return undefined
  }

  /**
   * The made-up partition key: one per producer. Records with it are routed by explicit hash key, so
   * it carries nothing, and a partition key costs: its bytes count toward the record size and the
   * shard's 1 MiB/s (a unique key per record was ~10 % of a 100-byte record), and making one per
   * record is CPU and garbage.
   */
  const madeUpKey = `p-${Math.random().toString(36).slice(2, 8)}`
  /**
   * A record routed by its own explicit hash key but given no partition key gets a unique one: one
   * key for all of them would put them under the per-key order rule (one per shard per request).
   */
  let keyCounter = 0
  const keyOf = ctx.partitionKey ?? (() => `${madeUpKey}-${(keyCounter++).toString(36)}`)

  const toItem = (
    input: A | ProducerRecord<A>,
    deferred: Deferred.Deferred<Delivery, ProducerError> | undefined,
    putOptions?: PutOptions
  ): Item<A> | InvalidPartitionKey => {
    let value: A
    let partitionKey: string | undefined
    let explicitHashKey: string | undefined
    if (isProducerRecord(input)) {
      value = (input as ProducerRecord<A>).value
      partitionKey = input.partitionKey
      explicitHashKey = input.explicitHashKey
    } else {
      value = input as A
      partitionKey = putOptions?.partitionKey
      explicitHashKey = putOptions?.explicitHashKey
    }
    if (partitionKey === undefined && explicitHashKey === undefined && ctx.partitionKey === undefined) {
      // ASCII: one byte per character
      return new Item(value, madeUpKey, undefined, deferred, true)
    }
    let key: unknown = partitionKey
    if (key === undefined) {
      // the user's function, from JavaScript too: a throw is this record's error, not a defect
      try {
        key = keyOf(value)
      } catch (error) {
        return new InvalidPartitionKey({
          partitionKey: "",
          reason: `the partitionKey function threw: ${error instanceof Error ? error.message : String(error)}`,
          record: value
        })
      }
    }
    const invalid = checkKey(key, explicitHashKey, value)
    if (invalid !== undefined) return invalid
    userKeys = true
    return new Item(value, key as string, explicitHashKey, deferred, false)
  }

  /**
   * Adds items (already made); on an item that cannot be added, those before it are in and its
   * error is returned. Synchronous: it notifies the pump, it does not send.
   */
  const addAll = (items: ReadonlyArray<Item<A>>, now: number): EncodeError | RecordTooLarge | undefined => {
    // groups (one per shard lane) are added one by one, each all or nothing: remember which made it
    const groups: Array<ReadonlyArray<Item<A>>> = []
    const error = addItems(items, now, groups)
    if (error === undefined) {
      notify()
      return undefined
    }
    const added = new Set(groups.flat())
    // add the rest one by one up to the bad record (never an item twice), then fail with its error.
    // Records of other lanes that came after it in the same call may already be in.
    for (const item of items) {
      if (added.has(item)) continue
      const single = addItems([item], now)
      if (single !== undefined) {
        notify()
        return single
      }
    }
    notify()
    return error
  }

  /** Plain values get the made-up key (no key function): `addSlice` makes their records directly. */
  const plainValues = ctx.partitionKey === undefined
  /** A slice's records between encoding and queueing (reused: no array per slice). */
  const encoded: Array<Item<A> | undefined> = []
  /**
   * Turns `inputs[from, to)` into records and adds them; returns the error of the first bad input
   * (the records before it are in). Encoding runs first, then routing and queueing.
   */
  const addSlice = (
    inputs: ReadonlyArray<A | ProducerRecord<A>>,
    from: number,
    to: number,
    now: number
  ): ProducerError | undefined => {
    let error: ProducerError | undefined
    if (direct) {
      // encoded first, then routed and queued (kept in `encoded`, cleared once queued)
      let n = 0
      for (let i = from; i < to; i++) {
        const input = inputs[i]!
        if (plainValues && !isProducerRecord(input)) {
          // The usual case: a plain value with the made-up key. Its record is made here, with no
          // key to check and nothing for the accumulator's rules to say (the single aggregator
          // sends the bytes as they are). A value this cannot take (the encoder throws, or it is
          // too large) goes the general way below, which makes its error.
          let data: Uint8Array | undefined
          try {
            data = encode(input as A)
          } catch {
            data = undefined
          }
          if (data !== undefined && data.length + madeUpKey.length <= maxRecordSize) {
            const item = new Item(input as A, madeUpKey, undefined, undefined, true)
            item.data = data
            item.size = data.length + madeUpKey.length
            encoded[n++] = item
            continue
          }
        }
        const item = toItem(input, undefined)
        if (item instanceof InvalidPartitionKey) {
          error = item
          break
        }
        error = encodeItem(item)
        if (error !== undefined) break
        encoded[n++] = item
      }
      for (let i = 0; i < n; i++) {
        queueDirect(encoded[i]!, now)
        encoded[i] = undefined
      }
      notify()
      return error
    }
    const items: Array<Item<A>> = []
    for (let i = from; i < to; i++) {
      const item = toItem(inputs[i]!, undefined)
      if (item instanceof InvalidPartitionKey) {
        error = item
        break
      }
      items.push(item)
    }
    return addAll(items, now) ?? error
  }

  return {
    toItem,
    addAll,
    addSlice,
    flushAccumulator,
    reroute,
    /** One user record per Kinesis record (no accumulator). */
    direct,
    userKeys: () => userKeys
  }
}
