/**
 * `effect-kinesis status STREAM`: the shard tree, per-shard lag, checkpoints and leases.
 *
 * Lag: with a group, each shard is read (GetRecords, limit 1) right after its checkpoint — or from
 * TRIM_HORIZON, the consumer's default start, when it has none — and the lag is how long ago the first
 * unprocessed record arrived (at least MillisBehindLatest); 0 when nothing is left to read. Without a
 * group there is no position to measure from (a reader at LATEST is never behind), so each shard is
 * scanned from TRIM_HORIZON instead: how many records it holds (up to `--scan-limit`) and the age of
 * the oldest.
 *
 * @internal
 */
import * as Checkpointer from "@effect-kinesis/core/Checkpointer"
import * as Kinesis from "@effect-kinesis/core/Kinesis"
import * as KinesisError from "@effect-kinesis/core/KinesisError"
import type * as StreamAddress from "@effect-kinesis/core/StreamAddress"
import * as Topology from "@effect-kinesis/core/Topology"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import {
  checkpointerLayer,
  type Connection,
  describeStore,
  describeTarget,
  type GroupOptions,
  kinesisLayer,
  parseStream,
  resolveStore,
  retryThrottling,
  type Store
} from "./connection.js"
import { record, withDeadline } from "./contact.js"
import { UsageError } from "./errors.js"
import * as Format from "./format.js"

/** @internal */
export interface StatusOptions extends Connection, GroupOptions {
  readonly stream: string
  readonly json: boolean
  readonly watch: boolean
  readonly interval: Duration.Duration
  readonly scanLimit: number
  /** The time the first status may take. */
  readonly timeout: Duration.Duration
}

/** @internal */
export interface LeaseReport {
  readonly owner: string
  readonly leaseCounter: number
  readonly expiresAt: string
  /** Negative once expired. */
  readonly expiresInMillis: number
}

/** @internal */
export interface ShardReport {
  readonly shardId: string
  readonly state: "open" | "closed"
  readonly parents: ReadonlyArray<string>
  readonly children: ReadonlyArray<string>
  readonly hashShare: string
  /** With a group: ms between now and the arrival of the first unprocessed record; 0 when caught up. */
  readonly lagMillis?: number | undefined
  readonly millisBehindLatest?: number | undefined
  /** Arrival of the first record after the checkpoint (or of the oldest, without a group). */
  readonly nextRecordArrival?: string | undefined
  /** Where the lag was measured from. */
  readonly measuredFrom?: "checkpoint" | "TRIM_HORIZON" | "ended" | undefined
  readonly checkpoint?: Checkpointer.Checkpoint | undefined
  readonly ended?: boolean | undefined
  readonly lease?: LeaseReport | undefined
  /** Without a group: records from TRIM_HORIZON, counted up to the scan limit. */
  readonly records?: number | undefined
  /** `false` when the scan stopped at the limit (there are at least `records`). */
  readonly recordsExact?: boolean | undefined
  readonly oldestRecordAgeMillis?: number | undefined
}

/** @internal */
export interface StatusReport {
  readonly stream: string
  readonly streamARN: string
  readonly status: string
  readonly mode: string
  readonly openShardCount: number
  readonly group?: { readonly name: string; readonly store: string } | undefined
  readonly workers?: ReadonlyArray<{ readonly workerId: string; readonly lastSeen: string }> | undefined
  readonly shards: ReadonlyArray<ShardReport>
  readonly generatedAt: string
}

/** At most this many GetRecords per shard to find the first record past empty responses. */
const MAX_PROBE_CALLS = 5

const startOf = (state: Checkpointer.ShardState | undefined): Kinesis.StartingPosition =>
  state?.checkpoint === undefined
    ? { type: "TRIM_HORIZON" }
    : state.checkpoint.subSequenceNumber === undefined
    ? { type: "AFTER_SEQUENCE_NUMBER", sequenceNumber: state.checkpoint.sequenceNumber }
    // inside a KPL aggregate: the aggregate itself is not fully processed
    : { type: "AT_SEQUENCE_NUMBER", sequenceNumber: state.checkpoint.sequenceNumber }

/** GetRecords (limit 1) at `position`, past empty responses: the first record, and MillisBehindLatest. */
const probe = (address: StreamAddress.StreamAddress, shardId: string, position: Kinesis.StartingPosition) =>
  Effect.gen(function*() {
    let iterator: string | undefined = yield* retryThrottling(
      Kinesis.getShardIterator({ stream: address, shardId, position })
    )
    let millisBehindLatest: number | undefined
    for (let call = 0; call < MAX_PROBE_CALLS && iterator !== undefined; call++) {
      const response: Kinesis.GetRecordsResponse = yield* retryThrottling(
        Kinesis.getRecords({ shardIterator: iterator, limit: 1, stream: address })
      )
      millisBehindLatest = response.millisBehindLatest
      if (response.records.length > 0) {
        return { first: response.records[0], millisBehindLatest, drained: false }
      }
      iterator = response.nextShardIterator
      if (millisBehindLatest === undefined || millisBehindLatest === 0) break
    }
    return { first: undefined, millisBehindLatest, drained: iterator === undefined }
  })

/** Counts records from TRIM_HORIZON, up to `limit`. */
const scan = (address: StreamAddress.StreamAddress, shardId: string, limit: number) =>
  Effect.gen(function*() {
    let iterator: string | undefined = yield* retryThrottling(
      Kinesis.getShardIterator({ stream: address, shardId, position: { type: "TRIM_HORIZON" } })
    )
    let records = 0
    let oldest: Date | undefined
    let emptyCalls = 0
    while (iterator !== undefined && records < limit) {
      const response: Kinesis.GetRecordsResponse = yield* retryThrottling(
        Kinesis.getRecords({ shardIterator: iterator, limit: Math.min(10_000, limit - records), stream: address })
      )
      if (oldest === undefined && response.records.length > 0) {
        oldest = response.records[0]!.approximateArrivalTimestamp
      }
      records += response.records.length
      iterator = response.nextShardIterator
      if (response.records.length === 0) {
        emptyCalls++
        // caught up (or AWS's empty responses on a sparse shard went on long enough)
        if (!response.millisBehindLatest || emptyCalls >= MAX_PROBE_CALLS) break
      }
    }
    return { records, exact: records < limit, oldest }
  })

/** One snapshot of the stream's status. @internal */
export const report = (
  address: StreamAddress.StreamAddress,
  group: { readonly store: Store; readonly checkpointer: Checkpointer.Service } | undefined,
  scanLimit: number
) =>
  Effect.gen(function*() {
    const [summary, shards] = yield* Effect.all([
      retryThrottling(Kinesis.describeStreamSummary(address)),
      retryThrottling(Kinesis.listShards({ stream: address }))
    ], { concurrency: 2 })
    const topology = Topology.make(shards)
    const store = group?.store
    const checkpointer = group?.checkpointer
    const streamKey = address.name
    const [states, workers] = checkpointer === undefined
      ? [new Map<string, Checkpointer.ShardState>(), undefined]
      : yield* Effect.all([
        Effect.map(checkpointer.list(streamKey), (list) => new Map(list.map((s) => [s.shardId, s] as const))),
        checkpointer.workers(streamKey)
      ], { concurrency: 2 })
    const now = yield* Clock.currentTimeMillis

    const shardReports = yield* Effect.forEach(shards, (shard) =>
      Effect.gen(function*() {
        const base = {
          shardId: shard.shardId,
          state: Topology.isClosed(shard) ? "closed" as const : "open" as const,
          parents: Topology.declaredParents(shard),
          children: Topology.children(topology, shard.shardId),
          hashShare: Format.hashShare(shard.hashKeyRange)
        }
        if (store === undefined) {
          const scanned = yield* scan(address, shard.shardId, scanLimit)
          return {
            ...base,
            records: scanned.records,
            recordsExact: scanned.exact,
            oldestRecordAgeMillis: scanned.oldest === undefined ? undefined : now - scanned.oldest.getTime(),
            nextRecordArrival: scanned.oldest === undefined ? undefined : Format.iso(scanned.oldest)
          } satisfies ShardReport
        }
        const state = states.get(shard.shardId)
        const lease: LeaseReport | undefined = state?.owner === undefined ? undefined : {
          owner: state.owner,
          leaseCounter: state.leaseCounter,
          expiresAt: Format.iso(state.expiresAt),
          expiresInMillis: state.expiresAt - now
        }
        const stored = { checkpoint: state?.checkpoint, ended: state?.ended ?? false, lease }
        if (state?.ended === true) {
          return { ...base, ...stored, lagMillis: 0, measuredFrom: "ended" as const } satisfies ShardReport
        }
        const probed = yield* probe(address, shard.shardId, startOf(state))
        const arrival = probed.first?.approximateArrivalTimestamp
        // a closed shard read to its end has nothing left, whatever MillisBehindLatest says
        const lagMillis = arrival === undefined
          ? probed.drained ? 0 : probed.millisBehindLatest ?? 0
          : Math.max(probed.millisBehindLatest ?? 0, Math.max(1, now - arrival.getTime()))
        return {
          ...base,
          ...stored,
          lagMillis,
          millisBehindLatest: probed.millisBehindLatest,
          nextRecordArrival: arrival === undefined ? undefined : Format.iso(arrival),
          measuredFrom: state?.checkpoint === undefined ? "TRIM_HORIZON" as const : "checkpoint" as const
        } satisfies ShardReport
      }), { concurrency: 8 })

    const result: StatusReport = {
      stream: summary.streamName,
      streamARN: summary.streamARN,
      status: summary.streamStatus,
      mode: summary.streamMode,
      openShardCount: summary.openShardCount,
      group: store === undefined ? undefined : { name: store.group, store: describeStore(store) },
      workers: workers?.map((w) => ({ workerId: w.workerId, lastSeen: Format.iso(w.lastSeen) })),
      shards: shardReports,
      generatedAt: Format.iso(now)
    }
    return { report: result, topology }
  })

const checkpointText = (checkpoint: Checkpointer.Checkpoint | undefined): string =>
  checkpoint === undefined
    ? "-"
    : checkpoint.subSequenceNumber === undefined
    ? checkpoint.sequenceNumber
    : `${checkpoint.sequenceNumber}/${checkpoint.subSequenceNumber}`

const leaseText = (lease: LeaseReport | undefined): string =>
  lease === undefined
    ? "-"
    : lease.expiresInMillis > 0
    ? `${lease.owner} (expires in ${Format.duration(lease.expiresInMillis)})`
    : `${lease.owner} (expired ${Format.duration(-lease.expiresInMillis)} ago)`

/** The text form of a report. @internal */
export const render = (result: StatusReport, topology: Topology.Topology): string => {
  const lines: Array<string> = []
  const byId = new Map(result.shards.map((s) => [s.shardId, s] as const))
  lines.push(
    `Stream ${result.stream}: ${result.status}, ${result.mode}, ${result.openShardCount} open shard(s) — ${result.generatedAt}`
  )
  if (result.group === undefined) {
    lines.push("No --group: records and oldest-record age per shard, scanned from TRIM_HORIZON.")
  } else {
    const workers = result.workers ?? []
    lines.push(`Group ${result.group.name} (${result.group.store}): ${workers.length} live worker(s)`)
    for (const w of workers) lines.push(`  ${w.workerId} (last heartbeat ${w.lastSeen})`)
  }
  lines.push("")
  const tree = Format.tree(topology)
  if (result.group === undefined) {
    lines.push(Format.table(
      ["SHARD", "STATE", "HASH", "RECORDS", "OLDEST RECORD"],
      tree.map((line) => {
        const shard = byId.get(line.shardId)
        if (line.reference || shard === undefined) return [`${line.prefix}${line.shardId}`, "", "", "", "(see above)"]
        return [
          `${line.prefix}${line.shardId}`,
          shard.state,
          shard.hashShare,
          shard.records === undefined
            ? "-"
            : `${shard.recordsExact === false ? ">=" : ""}${Format.count(shard.records)}`,
          shard.oldestRecordAgeMillis === undefined ? "-" : `${Format.duration(shard.oldestRecordAgeMillis)} ago`
        ]
      })
    ))
  } else {
    lines.push(Format.table(
      ["SHARD", "STATE", "LAG", "CHECKPOINT", "LEASE"],
      tree.map((line) => {
        const shard = byId.get(line.shardId)
        if (line.reference || shard === undefined) return [`${line.prefix}${line.shardId}`, "", "", "", "(see above)"]
        const lag = shard.measuredFrom === "ended"
          ? "0 (ended)"
          : shard.lagMillis === undefined
          ? "-"
          : Format.duration(shard.lagMillis) + (shard.measuredFrom === "TRIM_HORIZON" ? " (no checkpoint)" : "")
        return [
          `${line.prefix}${line.shardId}`,
          shard.state,
          lag,
          checkpointText(shard.checkpoint),
          leaseText(shard.lease)
        ]
      })
    ))
  }
  return lines.join("\n")
}

/** `status`, once or `--watch`. @internal */
export const status = (options: StatusOptions) =>
  Effect.gen(function*() {
    const address = yield* parseStream(options.stream)
    const store = yield* resolveStore(options)
    if (options.scanLimit < 1) return yield* new UsageError({ message: "--scan-limit must be at least 1" })
    if (Duration.toMillis(options.interval) < 100) {
      return yield* new UsageError({ message: "--interval must be at least 100 millis" })
    }
    const run = (
      group: { readonly store: Store; readonly checkpointer: Checkpointer.Service } | undefined,
      contacted: Effect.Effect<void>
    ) => {
      const once = Effect.gen(function*() {
        const { report: result, topology } = yield* report(address, group, options.scanLimit)
        yield* contacted
        if (options.json) {
          yield* Format.outLine(JSON.stringify(result, null, options.watch ? undefined : 2))
        } else if (options.watch && Format.stdoutIsTty()) {
          // refresh in place: home, clear the screen, draw
          yield* Format.out(`\x1b[H\x1b[2J${render(result, topology)}\n`)
        } else {
          yield* Format.outLine(render(result, topology) + (options.watch ? "\n" : ""))
        }
      })
      if (!options.watch) return once
      // a refresh that failed for a passing reason (throttling, network, store) does not end the watch;
      // until a first one succeeded, --timeout bounds the retrying
      const refresh = Effect.catchIf(
        once,
        (error) => KinesisError.isRetryable(error) || error._tag === "CheckpointerError",
        (error) =>
          Effect.zipRight(
            record(error),
            Format.errLine(`effect-kinesis: warning: refresh failed (${error._tag}: ${error.message}); retrying`)
          )
      )
      return Effect.forever(Effect.zipRight(refresh, Effect.sleep(options.interval)))
    }
    const waitingFor = describeTarget(options, store)
    if (store === undefined) {
      return yield* withDeadline(
        { timeout: options.timeout, waitingFor },
        (contacted) => run(undefined, contacted).pipe(Effect.provide(kinesisLayer(options, address)))
      )
    }
    return yield* withDeadline(
      { timeout: options.timeout, waitingFor },
      (contacted) =>
        Effect.flatMap(Checkpointer.Checkpointer, (checkpointer) => run({ store, checkpointer }, contacted)).pipe(
          Effect.provide(
            Layer.merge(kinesisLayer(options, address), checkpointerLayer(store, options, { createTable: false }))
          )
        )
    )
  })
