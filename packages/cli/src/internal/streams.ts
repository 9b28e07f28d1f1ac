/**
 * `effect-kinesis streams` and `effect-kinesis describe STREAM`.
 *
 * @internal
 */
import * as Kinesis from "@effect-kinesis/core/Kinesis"
import * as StreamAddress from "@effect-kinesis/core/StreamAddress"
import * as Topology from "@effect-kinesis/core/Topology"
import * as Effect from "effect/Effect"
import { type Connection, kinesisLayer, parseStream, retryThrottling } from "./connection.js"
import * as Format from "./format.js"

// ---------------------------------------------------------------------------------------------
// streams
// ---------------------------------------------------------------------------------------------

/** @internal */
export interface StreamsOptions extends Connection {
  readonly json: boolean
}

interface StreamRow {
  readonly streamName: string
  readonly streamARN: string | undefined
  readonly status: string | undefined
  readonly mode: string | undefined
  readonly openShardCount: number | undefined
  readonly retentionPeriodHours: number | undefined
  readonly createdAt: string | undefined
}

/** Lists every stream (every page), with status, mode and open shards (DescribeStreamSummary each). @internal */
export const streams = (options: StreamsOptions) =>
  Effect.gen(function*() {
    const listing = yield* retryThrottling(Kinesis.listStreams)
    const rows = yield* Effect.forEach(
      [...listing].sort((a, b) => a.streamName.localeCompare(b.streamName)),
      (entry) =>
        retryThrottling(Kinesis.describeStreamSummary(StreamAddress.unsafeMake(entry.streamName))).pipe(
          Effect.map((summary): StreamRow => ({
            streamName: entry.streamName,
            streamARN: summary.streamARN,
            status: summary.streamStatus,
            mode: summary.streamMode,
            openShardCount: summary.openShardCount,
            retentionPeriodHours: summary.retentionPeriodHours,
            createdAt: Format.iso(summary.streamCreationTimestamp)
          })),
          // deleted between the listing and the summary: show what the listing said
          Effect.catchTag("ResourceNotFound", () =>
            Effect.succeed<StreamRow>({
              streamName: entry.streamName,
              streamARN: entry.streamARN,
              status: "DELETED",
              mode: entry.streamMode,
              openShardCount: undefined,
              retentionPeriodHours: undefined,
              createdAt: undefined
            }))
        ),
      { concurrency: 4 }
    )
    if (options.json) {
      yield* Format.outLine(JSON.stringify(rows, null, 2))
      return
    }
    if (rows.length === 0) {
      yield* Format.outLine("no streams")
      return
    }
    yield* Format.outLine(
      Format.table(
        ["NAME", "STATUS", "MODE", "OPEN SHARDS"],
        rows.map((r) => [r.streamName, r.status ?? "-", r.mode ?? "-", r.openShardCount?.toString() ?? "-"])
      )
    )
  }).pipe(Effect.provide(kinesisLayer(options)))

// ---------------------------------------------------------------------------------------------
// describe
// ---------------------------------------------------------------------------------------------

/** @internal */
export interface DescribeOptions extends Connection {
  readonly stream: string
  readonly json: boolean
}

/** The summary and the shard table with lineage. @internal */
export const describe = (options: DescribeOptions) =>
  Effect.gen(function*() {
    const address = yield* parseStream(options.stream)
    return yield* Effect.gen(function*() {
      const [summary, shards] = yield* Effect.all([
        retryThrottling(Kinesis.describeStreamSummary(address)),
        retryThrottling(Kinesis.listShards({ stream: address }))
      ], { concurrency: 2 })
      const topology = Topology.make(shards)
      if (options.json) {
        yield* Format.outLine(JSON.stringify(
          {
            streamName: summary.streamName,
            streamARN: summary.streamARN,
            status: summary.streamStatus,
            mode: summary.streamMode,
            retentionPeriodHours: summary.retentionPeriodHours,
            encryptionType: summary.encryptionType,
            keyId: summary.keyId,
            openShardCount: summary.openShardCount,
            consumerCount: summary.consumerCount,
            createdAt: Format.iso(summary.streamCreationTimestamp),
            shards: shards.map((shard) => ({
              shardId: shard.shardId,
              state: Topology.isClosed(shard) ? "closed" : "open",
              parentShardId: shard.parentShardId,
              adjacentParentShardId: shard.adjacentParentShardId,
              children: Topology.children(topology, shard.shardId),
              hashKeyRange: shard.hashKeyRange,
              sequenceNumberRange: shard.sequenceNumberRange
            }))
          },
          null,
          2
        ))
        return
      }
      const encryption = summary.encryptionType === "KMS"
        ? `KMS (${summary.keyId ?? "key not shown"})`
        : summary.encryptionType
      const closed = shards.filter(Topology.isClosed).length
      yield* Format.outLine(Format.table(["Stream", summary.streamName], [
        ["ARN", summary.streamARN],
        ["Status", summary.streamStatus],
        ["Mode", summary.streamMode],
        ["Retention", `${summary.retentionPeriodHours} h`],
        ["Encryption", encryption],
        ["Open shards", `${summary.openShardCount}${closed > 0 ? ` (${closed} closed shards still listed)` : ""}`],
        ["Consumers", summary.consumerCount === undefined ? "-" : String(summary.consumerCount)],
        ["Created", Format.iso(summary.streamCreationTimestamp)]
      ]))
      yield* Format.outLine("")
      yield* Format.outLine(
        Format.table(
          ["SHARD", "STATE", "PARENT", "ADJACENT PARENT", "HASH SHARE", "HASH KEY RANGE"],
          shards.map((shard) => [
            shard.shardId,
            Topology.isClosed(shard) ? "closed" : "open",
            shard.parentShardId ?? "-",
            shard.adjacentParentShardId ?? "-",
            Format.hashShare(shard.hashKeyRange),
            `${shard.hashKeyRange.startingHashKey} - ${shard.hashKeyRange.endingHashKey}`
          ])
        )
      )
      if (shards.some((shard) => Topology.parents(topology, shard.shardId).length > 0)) {
        yield* Format.outLine("")
        yield* Format.outLine("Lineage (parent -> children):")
        for (const line of Format.tree(topology)) {
          const shard = topology.shards.get(line.shardId)
          const state = line.reference
            ? "(merge child, see above)"
            : shard !== undefined && Topology.isClosed(shard)
            ? "closed"
            : "open"
          yield* Format.outLine(`  ${line.prefix}${line.shardId}  ${state}`)
        }
      }
    }).pipe(Effect.provide(kinesisLayer(options, address)))
  })
