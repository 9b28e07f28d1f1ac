/** @internal */
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DeregisterStreamConsumerCommand,
  DescribeStreamConsumerCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  type KinesisClientConfig,
  ListShardsCommand,
  type ListShardsCommandInput,
  ListStreamConsumersCommand,
  ListStreamsCommand,
  MergeShardsCommand,
  PutRecordCommand,
  PutRecordsCommand,
  RegisterStreamConsumerCommand,
  SplitShardCommand,
  SubscribeToShardCommand,
  type SubscribeToShardEventStream,
  UpdateShardCountCommand
} from "@aws-sdk/client-kinesis"
import { NodeHttpHandler } from "@smithy/node-http-handler"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Http from "node:http"
import * as Https from "node:https"
import type * as Kinesis from "../Kinesis.js"
import { Kinesis as KinesisTag } from "../Kinesis.js"
import { type InvalidOption, ResourceInUse } from "../KinesisError.js"
import type { ServiceError } from "../KinesisError.js"
import * as StreamAddress from "../StreamAddress.js"
import * as Records from "./dataPlane/records.js"
import type * as Transport from "./dataPlane/transport.js"
import * as Options from "./options.js"
import { badGetRecords, badRecords, badStream } from "./options.js"
import { fromSdkError, PUT_RECORDS_ERRORS } from "./sdkErrors.js"
import * as Tracing from "./tracing.js"

/** @internal */
export const defaults = {
  maxAttempts: 1,
  requestTimeout: Duration.seconds(30),
  connectionTimeout: Duration.seconds(5),
  maxSockets: 50,
  dataPlane: "cbor" as Kinesis.DataPlane
} as const

type Tag = ServiceError["_tag"]

/** What a call learned of its response beyond its output (the data plane's transport fills it in). */
interface CallMeta {
  requestId?: string | undefined
}

/**
 * Runs one Kinesis API call in its span (`Kinesis.<Operation>`, tracing.ts): passes the fiber's abort
 * signal (interruption aborts the HTTP request), maps any failure to the operation's error union and
 * records the AWS request id, from the SDK's `$metadata` or the transport's `meta`.
 */
const callApi = <A, T extends Tag>(
  operation: string,
  allowed: ReadonlyArray<T>,
  stream: StreamAddress.StreamAddress | string | undefined,
  send: (abortSignal: AbortSignal, meta: CallMeta) => Promise<A>,
  region?: () => string | undefined,
  endpoint?: () => string | undefined
): Effect.Effect<A, Extract<ServiceError, { readonly _tag: T }>> => {
  const label = typeof stream === "object" ? StreamAddress.format(stream) : stream
  return Tracing.call(
    operation,
    typeof stream === "object" ? stream.name : stream,
    region ?? noRegion,
    (traced) =>
      Effect.suspend(() => {
        const meta: CallMeta = {}
        const sent = Effect.tryPromise({
          try: (abortSignal) => send(abortSignal, meta),
          catch: (error) =>
            // `fromSdkError` only returns tags listed in `allowed` (anything else becomes KinesisUnknownError).
            fromSdkError(error, operation, label, allowed, endpoint?.()) as Extract<
              ServiceError,
              { readonly _tag: T }
            >
        })
        return traced
          ? Effect.tapBoth(sent, {
            onFailure: (error) => annotateRequestId(error.requestId),
            onSuccess: (out) => annotateRequestId(meta.requestId ?? sdkRequestId(out))
          })
          : sent
      })
  )
}

const noRegion = () => undefined

/** The request id in an SDK command's output (`$metadata.requestId`). */
const sdkRequestId = (out: unknown): string | undefined =>
  Predicate.hasProperty(out, "$metadata") && Predicate.hasProperty(out.$metadata, "requestId") &&
    typeof out.$metadata.requestId === "string"
    ? out.$metadata.requestId
    : undefined

const annotateRequestId = (requestId: string | undefined): Effect.Effect<void> =>
  requestId === undefined ? Effect.void : Effect.annotateCurrentSpan("aws.request_id", requestId)

const PUT_RECORDS = PUT_RECORDS_ERRORS satisfies ReadonlyArray<Kinesis.PutRecordsError["_tag"]>
const GET_RECORDS = [...PUT_RECORDS, "ExpiredIterator"] as const satisfies ReadonlyArray<
  Kinesis.GetRecordsError["_tag"]
>
const GET_SHARD_ITERATOR = [
  "ProvisionedThroughputExceeded",
  "ResourceNotFound",
  "InvalidArgument",
  "AccessDenied",
  "KinesisConfigError",
  "KinesisUnknownError"
] as const satisfies ReadonlyArray<Kinesis.GetShardIteratorError["_tag"]>
const LIST_SHARDS = [
  "ResourceNotFound",
  "ResourceInUse",
  "InvalidArgument",
  "ExpiredNextToken",
  "LimitExceeded",
  "AccessDenied",
  "KinesisConfigError",
  "KinesisUnknownError"
] as const satisfies ReadonlyArray<Kinesis.ListShardsError["_tag"]>
const DESCRIBE = [
  "ResourceNotFound",
  "InvalidArgument",
  "LimitExceeded",
  "AccessDenied",
  "KinesisConfigError",
  "KinesisUnknownError"
] as const satisfies ReadonlyArray<Kinesis.DescribeStreamSummaryError["_tag"]>
const CREATE = [
  "ResourceInUse",
  "InvalidArgument",
  "LimitExceeded",
  "KinesisConfigError",
  "KinesisUnknownError"
] as const satisfies ReadonlyArray<Kinesis.CreateStreamError["_tag"]>
const DELETE = [
  "ResourceNotFound",
  "ResourceInUse",
  "LimitExceeded",
  "AccessDenied",
  "KinesisConfigError",
  "KinesisUnknownError"
] as const satisfies ReadonlyArray<Kinesis.DeleteStreamError["_tag"]>
const RESHARD = [
  "ResourceNotFound",
  "ResourceInUse",
  "InvalidArgument",
  "LimitExceeded",
  "AccessDenied",
  "KinesisConfigError",
  "KinesisUnknownError"
] as const satisfies ReadonlyArray<Kinesis.ReshardError["_tag"]>
const LIST_STREAMS = [
  "ExpiredNextToken",
  "InvalidArgument",
  "LimitExceeded",
  "KinesisConfigError",
  "KinesisUnknownError"
] as const satisfies ReadonlyArray<Kinesis.ListStreamsError["_tag"]>

const STREAM_CONSUMER = [
  "ResourceNotFound",
  "ResourceInUse",
  "InvalidArgument",
  "LimitExceeded",
  "AccessDenied",
  "KinesisConfigError",
  "KinesisUnknownError"
] as const satisfies ReadonlyArray<Kinesis.StreamConsumerError["_tag"]>
const SUBSCRIBE = [
  "ResourceNotFound",
  "ResourceInUse",
  "InvalidArgument",
  "LimitExceeded",
  "AccessDenied",
  "KmsError",
  "KinesisConfigError",
  "KinesisUnknownError"
] as const satisfies ReadonlyArray<Kinesis.SubscribeToShardError["_tag"]>

/** A consumer as the SDK describes it. */
const toStreamConsumer = (
  c: {
    ConsumerName?: string | undefined
    ConsumerARN?: string | undefined
    ConsumerStatus?: string | undefined
    ConsumerCreationTimestamp?: Date | undefined
    StreamARN?: string | undefined
  } | undefined,
  streamARN?: string
): Kinesis.StreamConsumer => ({
  consumerName: c?.ConsumerName ?? "",
  consumerARN: c?.ConsumerARN ?? "",
  consumerStatus: (c?.ConsumerStatus ?? "CREATING") as Kinesis.StreamConsumer["consumerStatus"],
  consumerCreationTimestamp: c?.ConsumerCreationTimestamp ?? new Date(0),
  streamARN: c?.StreamARN ?? streamARN ?? ""
})

const consumerInput = (consumer: Kinesis.StreamConsumerAddress) =>
  "consumerARN" in consumer
    ? { ConsumerARN: consumer.consumerARN }
    : { StreamARN: consumer.streamARN, ConsumerName: consumer.consumerName }

const consumerLabel = (consumer: Kinesis.StreamConsumerAddress): string =>
  "consumerARN" in consumer ? consumer.consumerARN : `${consumer.streamARN}/consumer/${consumer.consumerName}`

/** An event of the SDK's SubscribeToShard event stream: its records, or the error it carries. */
const fromSdkEvent = (
  event: SubscribeToShardEventStream,
  label: string
): Effect.Effect<Kinesis.SubscribeToShardEvent, Kinesis.SubscribeToShardError> => {
  const e = event.SubscribeToShardEvent
  if (e !== undefined) {
    return Effect.succeed({
      records: (e.Records ?? []).map((r): Kinesis.KinesisRecord => ({
        sequenceNumber: r.SequenceNumber ?? "",
        approximateArrivalTimestamp: r.ApproximateArrivalTimestamp ?? new Date(0),
        data: r.Data ?? new Uint8Array(0),
        partitionKey: r.PartitionKey ?? "",
        encryptionType: r.EncryptionType
      })),
      continuationSequenceNumber: e.ContinuationSequenceNumber ?? undefined,
      millisBehindLatest: e.MillisBehindLatest ?? 0,
      childShards: e.ChildShards === undefined || e.ChildShards.length === 0 ? undefined : e.ChildShards.map((c) => ({
        shardId: c.ShardId ?? "",
        parentShards: c.ParentShards ?? [],
        hashKeyRange: {
          startingHashKey: c.HashKeyRange?.StartingHashKey ?? "0",
          endingHashKey: c.HashKeyRange?.EndingHashKey ?? "0"
        }
      }))
    })
  }
  // an exception carried as an event (its member's name is the exception's)
  const [name, value] = Object.entries(event).find(([, v]) => v !== undefined) ?? ["UnknownError", {}]
  const error = Object.assign(new Error(stringOf(value, "message") ?? name), { name, ...(value as object) })
  return Effect.fail(fromSdkError(error, "subscribeToShard", label, SUBSCRIBE) as Kinesis.SubscribeToShardError)
}

const stringOf = (u: unknown, key: string): string | undefined =>
  Predicate.hasProperty(u, key) && typeof u[key] === "string" ? u[key] : undefined

const toShard = (shard: {
  ShardId?: string | undefined
  ParentShardId?: string | undefined
  AdjacentParentShardId?: string | undefined
  HashKeyRange?: { StartingHashKey?: string | undefined; EndingHashKey?: string | undefined } | undefined
  SequenceNumberRange?:
    | { StartingSequenceNumber?: string | undefined; EndingSequenceNumber?: string | undefined }
    | undefined
}): Kinesis.Shard => ({
  shardId: shard.ShardId ?? "",
  parentShardId: shard.ParentShardId,
  adjacentParentShardId: shard.AdjacentParentShardId,
  hashKeyRange: {
    startingHashKey: shard.HashKeyRange?.StartingHashKey ?? "0",
    endingHashKey: shard.HashKeyRange?.EndingHashKey ?? "0"
  },
  sequenceNumberRange: {
    startingSequenceNumber: shard.SequenceNumberRange?.StartingSequenceNumber ?? "0",
    endingSequenceNumber: shard.SequenceNumberRange?.EndingSequenceNumber
  }
})

const toShardFilter = (filter: Kinesis.ShardFilter): NonNullable<ListShardsCommandInput["ShardFilter"]> => {
  switch (filter.type) {
    case "AFTER_SHARD_ID":
      return { Type: filter.type, ShardId: filter.shardId }
    case "AT_TIMESTAMP":
    case "FROM_TIMESTAMP":
      return { Type: filter.type, Timestamp: filter.timestamp }
    default:
      return { Type: filter.type }
  }
}

const toPosition = (position: Kinesis.StartingPosition) => {
  switch (position.type) {
    case "AT_SEQUENCE_NUMBER":
    case "AFTER_SEQUENCE_NUMBER":
      return { ShardIteratorType: position.type, StartingSequenceNumber: position.sequenceNumber }
    case "AT_TIMESTAMP":
      return { ShardIteratorType: position.type, Timestamp: position.timestamp }
    default:
      return { ShardIteratorType: position.type }
  }
}

/** @internal */
export const fromClient = (
  client: KinesisClient,
  options?: { readonly dataPlane?: Kinesis.DataPlane | undefined }
): Kinesis.Service => {
  // from JavaScript: an unknown data plane would send bodies of no known format
  const invalid = options === undefined ? undefined : Options.validate(options, { dataPlane: DATA_PLANE })
  if (invalid !== undefined) throw invalid
  const dataPlane = options?.dataPlane ?? defaults.dataPlane
  // the region for the spans' `cloud.region`, once the client has resolved it (a client without one
  // fails its calls with its own error)
  let region: string | undefined
  if (typeof client.config.region === "function") {
    client.config.region().then((resolved) => {
      region = resolved
    }, () => undefined)
  }
  const regionNow = () => region
  // the endpoint's host:port, named when it cannot be reached
  let endpoint: string | undefined
  const config = client.config
  if (config.isCustomEndpoint && typeof config.endpoint === "function") {
    config.endpoint().then((e) => {
      endpoint = `${e.hostname}:${e.port ?? (e.protocol === "https:" ? 443 : 80)}`
    }, () => undefined)
  }
  const endpointNow = () => endpoint ?? (region === undefined ? undefined : `kinesis.${region}.amazonaws.com:443`)
  const call = <A, T extends Tag>(
    operation: string,
    allowed: ReadonlyArray<T>,
    stream: StreamAddress.StreamAddress | string | undefined,
    send: (abortSignal: AbortSignal, meta: CallMeta) => Promise<A>
  ) => callApi(operation, allowed, stream, send, regionNow, endpointNow)
  // the transport (and the SigV4 signer it imports) is loaded on the first data-plane call, not with the
  // module: a program's start pays for it only when it sends or reads records
  let transport: Promise<Transport.Transport> | undefined
  const direct = dataPlane === "sdk" ? undefined : {
    format: dataPlane,
    /** Sends `body` as `operation` in this format through the transport. */
    send: async (
      operation: Transport.Operation,
      body: Records.Body,
      stream: StreamAddress.StreamAddress | undefined,
      abortSignal: AbortSignal,
      meta: CallMeta
    ) =>
      (await (transport ??= import("./dataPlane/transport.js").then((module) => module.make(client))))
        .send(operation, dataPlane, body, stream, abortSignal, meta)
  }

  const sdkPutRecords = (request: Kinesis.PutRecordsRequest) =>
    call(
      "putRecords",
      PUT_RECORDS,
      request.stream,
      (abortSignal) =>
        client.send(
          new PutRecordsCommand({
            ...StreamAddress.toRequest(request.stream),
            Records: request.records.map((r) =>
              r.explicitHashKey === undefined
                ? { Data: r.data, PartitionKey: r.partitionKey }
                : { Data: r.data, PartitionKey: r.partitionKey, ExplicitHashKey: r.explicitHashKey }
            )
          }),
          { abortSignal }
        )
    ).pipe(
      Effect.map((out): Kinesis.PutRecordsResponse => ({
        failedRecordCount: out.FailedRecordCount ?? 0,
        encryptionType: out.EncryptionType,
        records: (out.Records ?? []).map((r): Kinesis.PutRecordsResultEntry =>
          r.ErrorCode !== undefined && r.ErrorCode !== null
            ? { _tag: "Failure", errorCode: r.ErrorCode, errorMessage: r.ErrorMessage ?? "" }
            : { _tag: "Success", shardId: r.ShardId ?? "", sequenceNumber: r.SequenceNumber ?? "" }
        )
      }))
    )

  const sdkPutRecord = (request: Kinesis.PutRecordRequest) =>
    call(
      "putRecord",
      PUT_RECORDS,
      request.stream,
      (abortSignal) =>
        client.send(
          new PutRecordCommand({
            ...StreamAddress.toRequest(request.stream),
            Data: request.data,
            PartitionKey: request.partitionKey,
            ...(request.explicitHashKey === undefined ? {} : { ExplicitHashKey: request.explicitHashKey }),
            ...(request.sequenceNumberForOrdering === undefined
              ? {}
              : { SequenceNumberForOrdering: request.sequenceNumberForOrdering })
          }),
          { abortSignal }
        )
    ).pipe(
      Effect.map((out): Kinesis.PutRecordResponse => ({
        shardId: out.ShardId ?? "",
        sequenceNumber: out.SequenceNumber ?? "",
        ...(out.EncryptionType === undefined ? {} : { encryptionType: out.EncryptionType })
      }))
    )

  const sdkGetRecords = (request: Kinesis.GetRecordsRequest) =>
    call(
      "getRecords",
      GET_RECORDS,
      request.stream,
      (abortSignal) =>
        client.send(
          new GetRecordsCommand({
            ShardIterator: request.shardIterator,
            ...(request.limit === undefined ? {} : { Limit: request.limit }),
            ...(request.stream?._tag === "StreamArn" ? { StreamARN: request.stream.arn } : {})
          }),
          { abortSignal }
        )
    ).pipe(
      Effect.map((out): Kinesis.GetRecordsResponse => ({
        records: (out.Records ?? []).map((r) => ({
          sequenceNumber: r.SequenceNumber ?? "",
          approximateArrivalTimestamp: r.ApproximateArrivalTimestamp ?? new Date(0),
          data: r.Data ?? new Uint8Array(0),
          partitionKey: r.PartitionKey ?? "",
          encryptionType: r.EncryptionType
        })),
        nextShardIterator: out.NextShardIterator ?? undefined,
        millisBehindLatest: out.MillisBehindLatest,
        childShards: out.ChildShards?.map((c) => ({
          shardId: c.ShardId ?? "",
          parentShards: c.ParentShards ?? [],
          hashKeyRange: {
            startingHashKey: c.HashKeyRange?.StartingHashKey ?? "0",
            endingHashKey: c.HashKeyRange?.EndingHashKey ?? "0"
          }
        }))
      }))
    )

  // What a JavaScript caller passes is checked before anything is sent (`InvalidArgument`, never a defect
  // or a silently wrong body). PutRecords' records are checked per request here only on the SDK's data
  // plane: the CBOR and JSON body writers check each record as they size it, with no pass of their own.
  const putRecordsChecked = (request: Kinesis.PutRecordsRequest) => {
    const bad = direct === undefined
      ? badRecords("putRecords", request.stream, request.records)
      : badStream("putRecords", request.stream) ??
        (Array.isArray(request.records) ? undefined : badRecords("putRecords", request.stream, request.records))
    return bad !== undefined ? Effect.fail(bad) : putRecordsSent(request)
  }
  const putRecordChecked = (request: Kinesis.PutRecordRequest) => {
    const bad = badRecords("putRecord", request.stream, [request])
    return bad !== undefined ? Effect.fail(bad) : putRecordSent(request)
  }
  const getRecordsChecked = (request: Kinesis.GetRecordsRequest) => {
    const bad = badGetRecords(request)
    return bad !== undefined ? Effect.fail(bad) : getRecords(request)
  }

  const putRecordsSent = direct === undefined ?
    sdkPutRecords :
    (request: Kinesis.PutRecordsRequest) =>
      call("putRecords", PUT_RECORDS, request.stream, async (abortSignal, meta) => {
        const body = Records.putRecords(direct.format, request)
        try {
          const out = await direct.send("PutRecords", body, request.stream, abortSignal, meta)
          return direct.format === "cbor"
            ? Records.putRecordsResponseCbor(out)
            : Records.putRecordsResponse(Records.parse(direct.format, out))
        } finally {
          // the response was read (or the request failed or was aborted): the body may serve another request
          Records.releaseBody(body)
        }
      })

  const putRecordSent = direct === undefined ?
    sdkPutRecord :
    (request: Kinesis.PutRecordRequest) =>
      call("putRecord", PUT_RECORDS, request.stream, async (abortSignal, meta) => {
        const body = Records.putRecord(direct.format, request)
        const out = await direct.send("PutRecord", body, request.stream, abortSignal, meta)
        return Records.putRecordResponse(Records.parse(direct.format, out))
      })

  const getRecords = direct === undefined ?
    sdkGetRecords :
    (request: Kinesis.GetRecordsRequest) =>
      call("getRecords", GET_RECORDS, request.stream, async (abortSignal, meta) => {
        const body = Records.getRecords(direct.format, request)
        const out = await direct.send("GetRecords", body, request.stream, abortSignal, meta)
        return direct.format === "cbor"
          ? Records.getRecordsResponseCbor(out)
          : Records.getRecordsResponse(Records.parse(direct.format, out))
      })

  const getShardIterator = (request: Kinesis.GetShardIteratorRequest) =>
    call(
      "getShardIterator",
      GET_SHARD_ITERATOR,
      request.stream,
      (abortSignal) =>
        client.send(
          new GetShardIteratorCommand({
            ...StreamAddress.toRequest(request.stream),
            ShardId: request.shardId,
            ...toPosition(request.position)
          }),
          { abortSignal }
        )
    ).pipe(Effect.map((out) => out.ShardIterator ?? ""))

  const listShards = (request: Kinesis.ListShardsRequest) => {
    const first: ListShardsCommandInput = {
      ...StreamAddress.toRequest(request.stream),
      ...(request.shardFilter === undefined ? {} : { ShardFilter: toShardFilter(request.shardFilter) }),
      ...(request.exclusiveStartShardId === undefined ? {} : { ExclusiveStartShardId: request.exclusiveStartShardId }),
      ...(request.pageSize === undefined ? {} : { MaxResults: request.pageSize })
    }
    // A page after the first is addressed by NextToken alone (the token names the stream).
    const page = (input: ListShardsCommandInput) =>
      call(
        "listShards",
        LIST_SHARDS,
        request.stream,
        (abortSignal) => client.send(new ListShardsCommand(input), { abortSignal })
      )
    return Effect.gen(function*() {
      const shards: Array<Kinesis.Shard> = []
      let input = first
      while (true) {
        const out = yield* page(input)
        for (const shard of out.Shards ?? []) shards.push(toShard(shard))
        if (out.NextToken === undefined || out.NextToken === null || out.NextToken === "") return shards
        input = {
          NextToken: out.NextToken,
          ...(request.pageSize === undefined ? {} : { MaxResults: request.pageSize })
        }
      }
    })
  }

  const describeStreamSummary = (stream: StreamAddress.StreamAddress) =>
    call(
      "describeStreamSummary",
      DESCRIBE,
      stream,
      (abortSignal) => client.send(new DescribeStreamSummaryCommand(StreamAddress.toRequest(stream)), { abortSignal })
    ).pipe(
      Effect.map(({ StreamDescriptionSummary: s }): Kinesis.StreamSummary => ({
        streamName: s?.StreamName ?? StreamAddress.name(stream),
        streamARN: s?.StreamARN ?? "",
        streamStatus: s?.StreamStatus ?? "ACTIVE",
        streamMode: s?.StreamModeDetails?.StreamMode ?? "PROVISIONED",
        retentionPeriodHours: s?.RetentionPeriodHours ?? 24,
        openShardCount: s?.OpenShardCount ?? 0,
        encryptionType: s?.EncryptionType ?? "NONE",
        keyId: s?.KeyId,
        streamCreationTimestamp: s?.StreamCreationTimestamp ?? new Date(0),
        consumerCount: s?.ConsumerCount
      }))
    )

  const createStream = (request: Kinesis.CreateStreamRequest) =>
    call("createStream", CREATE, request.streamName, (abortSignal) =>
      client.send(
        new CreateStreamCommand({
          StreamName: request.streamName,
          ...(request.shardCount === undefined ? {} : { ShardCount: request.shardCount }),
          ...(request.streamMode === undefined ? {} : { StreamModeDetails: { StreamMode: request.streamMode } })
        }),
        { abortSignal }
      )).pipe(Effect.asVoid)

  const deleteStream = (request: Kinesis.DeleteStreamRequest) =>
    call("deleteStream", DELETE, request.stream, (abortSignal) =>
      client.send(
        new DeleteStreamCommand({
          ...StreamAddress.toRequest(request.stream),
          ...(request.enforceConsumerDeletion === undefined
            ? {}
            : { EnforceConsumerDeletion: request.enforceConsumerDeletion })
        }),
        { abortSignal }
      )).pipe(Effect.asVoid)

  const splitShard = (request: Kinesis.SplitShardRequest) =>
    call("splitShard", RESHARD, request.stream, (abortSignal) =>
      client.send(
        new SplitShardCommand({
          ...StreamAddress.toRequest(request.stream),
          ShardToSplit: request.shardToSplit,
          NewStartingHashKey: request.newStartingHashKey
        }),
        { abortSignal }
      )).pipe(Effect.asVoid)

  const mergeShards = (request: Kinesis.MergeShardsRequest) =>
    call("mergeShards", RESHARD, request.stream, (abortSignal) =>
      client.send(
        new MergeShardsCommand({
          ...StreamAddress.toRequest(request.stream),
          ShardToMerge: request.shardToMerge,
          AdjacentShardToMerge: request.adjacentShardToMerge
        }),
        { abortSignal }
      )).pipe(Effect.asVoid)

  const updateShardCount = (request: Kinesis.UpdateShardCountRequest) =>
    call("updateShardCount", RESHARD, request.stream, (abortSignal) =>
      client.send(
        new UpdateShardCountCommand({
          ...StreamAddress.toRequest(request.stream),
          TargetShardCount: request.targetShardCount,
          ScalingType: "UNIFORM_SCALING"
        }),
        { abortSignal }
      )).pipe(
        Effect.map((out): Kinesis.UpdateShardCountResponse => ({
          currentShardCount: out.CurrentShardCount ?? 0,
          targetShardCount: out.TargetShardCount ?? request.targetShardCount
        }))
      )

  const listStreams = () =>
    Effect.gen(function*() {
      const streams: Array<Kinesis.StreamListing> = []
      let nextToken: string | undefined
      let lastName: string | undefined
      while (true) {
        const input = nextToken !== undefined
          ? { NextToken: nextToken }
          : lastName !== undefined
          ? { ExclusiveStartStreamName: lastName }
          : {}
        const out = yield* call("listStreams", LIST_STREAMS, undefined, (abortSignal) =>
          client.send(new ListStreamsCommand(input), { abortSignal }))
        const summaries = out.StreamSummaries ?? []
        if (summaries.length > 0) {
          for (const s of summaries) {
            streams.push({
              streamName: s.StreamName ?? "",
              streamARN: s.StreamARN,
              streamStatus: s.StreamStatus,
              streamMode: s.StreamModeDetails?.StreamMode,
              streamCreationTimestamp: s.StreamCreationTimestamp
            })
          }
        } else {
          for (const name of out.StreamNames ?? []) {
            streams.push({ streamName: name })
          }
        }
        const pageLast = streams.length > 0 ? streams[streams.length - 1]!.streamName : undefined
        if (out.HasMoreStreams !== true) {
          return streams
        }
        if (out.NextToken !== undefined && out.NextToken !== null && out.NextToken !== "") {
          nextToken = out.NextToken
        } else if (pageLast !== undefined && pageLast !== lastName) {
          // Servers without NextToken (kinesalite, kinesis-local) page by ExclusiveStartStreamName.
          nextToken = undefined
          lastName = pageLast
        } else {
          return streams // no progress possible: stop rather than loop
        }
      }
    })

  const registerStreamConsumer = (request: Kinesis.RegisterStreamConsumerRequest) =>
    call("registerStreamConsumer", STREAM_CONSUMER, request.streamARN, (abortSignal) =>
      client.send(
        new RegisterStreamConsumerCommand({ StreamARN: request.streamARN, ConsumerName: request.consumerName }),
        { abortSignal }
      )).pipe(Effect.map((out) => toStreamConsumer(out.Consumer, request.streamARN)))

  const describeStreamConsumer = (consumer: Kinesis.StreamConsumerAddress) =>
    call(
      "describeStreamConsumer",
      STREAM_CONSUMER,
      consumerLabel(consumer),
      (abortSignal) => client.send(new DescribeStreamConsumerCommand(consumerInput(consumer)), { abortSignal })
    ).pipe(
      Effect.map((out) => toStreamConsumer(out.ConsumerDescription))
    )

  const listStreamConsumers = (streamARN: string) =>
    Effect.gen(function*() {
      const consumers: Array<Kinesis.StreamConsumer> = []
      let nextToken: string | undefined
      do {
        const token = nextToken
        const out = yield* call("listStreamConsumers", STREAM_CONSUMER, streamARN, (abortSignal) =>
          client.send(
            new ListStreamConsumersCommand(
              token === undefined ? { StreamARN: streamARN } : { StreamARN: streamARN, NextToken: token }
            ),
            { abortSignal }
          ))
        for (const c of out.Consumers ?? []) consumers.push(toStreamConsumer(c, streamARN))
        nextToken = out.NextToken === null || out.NextToken === "" ? undefined : out.NextToken
      } while (nextToken !== undefined)
      return consumers
    })

  const deregisterStreamConsumer = (consumer: Kinesis.StreamConsumerAddress) =>
    call(
      "deregisterStreamConsumer",
      STREAM_CONSUMER,
      consumerLabel(consumer),
      (abortSignal) => client.send(new DeregisterStreamConsumerCommand(consumerInput(consumer)), { abortSignal })
    ).pipe(Effect.asVoid)

  /**
   * SubscribeToShard through the SDK's command: HTTP/2 with its default handler (AWS), HTTP/1.1 with the
   * `NodeHttpHandler` a local endpoint gets (kinesis-local); the event stream is decoded by the SDK. The
   * request is aborted when the stream is interrupted.
   */
  const subscribeToShard = (
    request: Kinesis.SubscribeToShardRequest
  ): Stream.Stream<Kinesis.SubscribeToShardEvent, Kinesis.SubscribeToShardError> => {
    const label = `${request.consumerARN} ${request.shardId}`
    return Stream.unwrapScoped(Effect.gen(function*() {
      const controller = new AbortController()
      yield* Effect.addFinalizer(() => Effect.sync(() => controller.abort()))
      const position = request.position
      const out = yield* call("subscribeToShard", SUBSCRIBE, label, (abortSignal) => {
        abortSignal.addEventListener("abort", () => controller.abort(), { once: true })
        return client.send(
          new SubscribeToShardCommand({
            ConsumerARN: request.consumerARN,
            ShardId: request.shardId,
            StartingPosition: {
              Type: position.type,
              ...(position.type === "AT_SEQUENCE_NUMBER" || position.type === "AFTER_SEQUENCE_NUMBER"
                ? { SequenceNumber: position.sequenceNumber }
                : position.type === "AT_TIMESTAMP"
                ? { Timestamp: position.timestamp }
                : {})
            }
          }),
          { abortSignal: controller.signal }
        )
      })
      const events = out.EventStream
      if (events === undefined) return Stream.empty
      // Not Stream.fromAsyncIterable: its release awaits `iterator.return()`, which an async generator runs
      // only once its pending `next()` settles — an interruption while waiting for the next event would hang
      // until the server sent one. Aborting the request first settles it (and closes the HTTP/2 stream).
      const iterator = yield* Effect.acquireRelease(
        Effect.sync(() => events[Symbol.asyncIterator]()),
        (iterator) =>
          Effect.promise(async () => {
            controller.abort()
            await iterator.return?.(undefined)
          }).pipe(Effect.catchAllDefect(() => Effect.void))
      )
      return Stream.repeatEffectOption(
        Effect.tryPromise({
          try: () => iterator.next(),
          catch: (error) =>
            Option.some(fromSdkError(error, "subscribeToShard", label, SUBSCRIBE) as Kinesis.SubscribeToShardError)
        }).pipe(Effect.flatMap((next) => next.done === true ? Effect.fail(Option.none()) : Effect.succeed(next.value)))
      ).pipe(Stream.mapEffect((event) => fromSdkEvent(event, label)))
    }))
  }

  return {
    registerStreamConsumer,
    describeStreamConsumer,
    listStreamConsumers,
    deregisterStreamConsumer,
    subscribeToShard,
    putRecords: putRecordsChecked,
    putRecord: putRecordChecked,
    getRecords: getRecordsChecked,
    getShardIterator,
    listShards,
    describeStreamSummary,
    createStream,
    deleteStream,
    splitShard,
    mergeShards,
    updateShardCount,
    listStreams
  }
}

/** @internal */
export const clientConfig = (options: Kinesis.KinesisOptions = {}): KinesisClientConfig => {
  const config: KinesisClientConfig = {
    ...options.clientConfig,
    maxAttempts: options.maxAttempts ?? defaults.maxAttempts
  }
  if (options.region !== undefined) config.region = options.region
  if (options.endpoint !== undefined) config.endpoint = options.endpoint
  if (options.credentials !== undefined) config.credentials = options.credentials
  if (options.requestHandler !== undefined) {
    config.requestHandler = options.requestHandler
  } else if (options.endpoint !== undefined && options.endpoint.startsWith("http://")) {
    // Local servers (kinesalite, kinesis-local) speak HTTP/1.1 only; the SDK's default for Kinesis is HTTP/2.
    config.requestHandler = new NodeHttpHandler({
      httpAgent: new Http.Agent({ keepAlive: true, maxSockets: options.maxSockets ?? defaults.maxSockets }),
      httpsAgent: new Https.Agent({ keepAlive: true, maxSockets: options.maxSockets ?? defaults.maxSockets }),
      requestTimeout: Duration.toMillis(options.requestTimeout ?? defaults.requestTimeout),
      connectionTimeout: Duration.toMillis(options.connectionTimeout ?? defaults.connectionTimeout)
    })
  }
  return config
}

const DATA_PLANE = Options.oneOf("cbor", "json", "sdk")

const isObject = (u: unknown): boolean => typeof u === "object" && u !== null && !Array.isArray(u)

/** The options' kinds (options.ts): what a JavaScript caller's values are checked against. */
const OPTIONS: Readonly<Record<keyof Kinesis.KinesisOptions, Options.Kind>> = {
  region: Options.custom(
    (u) => typeof u === "string" && /^[a-z0-9-]+$/i.test(u),
    "a region name such as \"us-east-1\""
  ),
  endpoint: Options.custom((u) => {
    if (typeof u !== "string") return false
    try {
      const url = new URL(u)
      return url.protocol === "http:" || url.protocol === "https:"
    } catch {
      return false
    }
  }, "an http:// or https:// URL such as \"http://127.0.0.1:4567\""),
  credentials: Options.custom(
    (u) =>
      typeof u === "function" ||
      (Predicate.hasProperty(u, "accessKeyId") && typeof u.accessKeyId === "string" &&
        Predicate.hasProperty(u, "secretAccessKey") && typeof u.secretAccessKey === "string"),
    "{ accessKeyId, secretAccessKey } strings, or a credential provider function"
  ),
  maxAttempts: Options.int(1),
  requestTimeout: Options.duration,
  connectionTimeout: Options.duration,
  maxSockets: Options.int(1),
  requestHandler: Options.custom((u) => isObject(u) || typeof u === "function", "a request handler"),
  clientConfig: Options.custom(isObject, "a KinesisClient configuration object"),
  dataPlane: DATA_PLANE
}

/** The first option a JavaScript caller got wrong (`InvalidOption`), when any. @internal */
export const validateOptions = (options: Kinesis.KinesisOptions | undefined): InvalidOption | undefined =>
  options === undefined ? undefined : Options.notAnObject(options, "options") ?? Options.validate(options, OPTIONS)

/** @internal */
export const makeClient = (
  options?: Kinesis.KinesisOptions
): Effect.Effect<KinesisClient, InvalidOption, Scope.Scope> => {
  const invalid = validateOptions(options)
  return invalid !== undefined ? Effect.fail(invalid) : makeValidClient(options)
}

const makeValidClient = (options: Kinesis.KinesisOptions | undefined) =>
  Effect.acquireRelease(
    Effect.sync(() => new KinesisClient(clientConfig(options))),
    (client) => Effect.sync(() => client.destroy())
  )

/** The port over a new client, its options already checked. */
const layerValid = (options: Kinesis.KinesisOptions | undefined): Layer.Layer<KinesisTag> =>
  Layer.scoped(
    KinesisTag,
    Effect.map(makeValidClient(options), (client) => fromClient(client, { dataPlane: options?.dataPlane }))
  )

/** @internal */
export const layer = (options?: Kinesis.KinesisOptions): Layer.Layer<KinesisTag, InvalidOption> => {
  const invalid = validateOptions(options)
  return invalid !== undefined ? Layer.fail(invalid) : layerValid(options)
}

/** @internal */
export const layerClient = (
  client: KinesisClient,
  options?: { readonly dataPlane?: Kinesis.DataPlane | undefined }
): Layer.Layer<KinesisTag, InvalidOption> => {
  const invalid = options === undefined ? undefined : Options.validate(options, { dataPlane: DATA_PLANE })
  return invalid !== undefined ? Layer.fail(invalid) : Layer.succeed(KinesisTag, fromClient(client, options))
}

/** @internal */
export const config: Config.Config<Kinesis.KinesisOptions> = Config.all({
  region: Config.option(Config.nonEmptyString("AWS_REGION")),
  endpoint: Config.option(Config.nonEmptyString("KINESIS_ENDPOINT")),
  accessKeyId: Config.option(Config.redacted("AWS_ACCESS_KEY_ID")),
  secretAccessKey: Config.option(Config.redacted("AWS_SECRET_ACCESS_KEY")),
  sessionToken: Config.option(Config.redacted("AWS_SESSION_TOKEN")),
  maxAttempts: Config.integer("KINESIS_MAX_ATTEMPTS").pipe(Config.withDefault(defaults.maxAttempts)),
  requestTimeout: Config.duration("KINESIS_REQUEST_TIMEOUT").pipe(Config.withDefault(defaults.requestTimeout)),
  dataPlane: Config.literal("cbor", "json", "sdk")("KINESIS_DATA_PLANE").pipe(Config.withDefault(defaults.dataPlane))
}).pipe(Config.map((c): Kinesis.KinesisOptions => {
  const options: {
    -readonly [K in keyof Kinesis.KinesisOptions]: Kinesis.KinesisOptions[K]
  } = { maxAttempts: c.maxAttempts, requestTimeout: c.requestTimeout, dataPlane: c.dataPlane }
  if (Option.isSome(c.region)) options.region = c.region.value
  if (Option.isSome(c.endpoint)) options.endpoint = c.endpoint.value
  if (Option.isSome(c.accessKeyId) && Option.isSome(c.secretAccessKey)) {
    options.credentials = {
      accessKeyId: Redacted.value(c.accessKeyId.value),
      secretAccessKey: Redacted.value(c.secretAccessKey.value),
      ...(Option.isSome(c.sessionToken) ? { sessionToken: Redacted.value(c.sessionToken.value) } : {})
    }
  }
  return options
}))

/** @internal */
export const layerConfig = (
  config: Config.Config.Wrap<Kinesis.KinesisOptions>
): Layer.Layer<KinesisTag, ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.flatMap(Config.unwrap(config), (options) => {
    // a value of the wrong kind (from JavaScript, or a Config mapped to one) is a configuration error
    const invalid = validateOptions(options)
    return invalid === undefined
      ? Effect.succeed(layerValid(options))
      : Effect.fail(ConfigError.InvalidData([invalid.option], invalid.message))
  }))

/** @internal */
export const defaultWaitSchedule: Schedule.Schedule<unknown, unknown> = Schedule.exponential("100 millis", 1.5).pipe(
  Schedule.union(Schedule.spaced("2 seconds")),
  Schedule.upTo("5 minutes")
)

/** @internal */
export const waitUntilActive = (
  stream: StreamAddress.StreamAddress,
  schedule: Schedule.Schedule<unknown, unknown> = defaultWaitSchedule
): Effect.Effect<Kinesis.StreamSummary, Kinesis.DescribeStreamSummaryError | ResourceInUse, KinesisTag> =>
  Effect.flatMap(KinesisTag, (kinesis) =>
    kinesis.describeStreamSummary(stream).pipe(
      Effect.repeat(
        Schedule.recurWhile((s: Kinesis.StreamSummary) => s.streamStatus !== "ACTIVE").pipe(
          Schedule.passthrough,
          Schedule.zipLeft(schedule)
        )
      ),
      Effect.filterOrFail(
        (summary) => summary.streamStatus === "ACTIVE",
        (summary) =>
          new ResourceInUse({
            operation: "waitUntilActive",
            stream: StreamAddress.format(stream),
            message: `Stream ${StreamAddress.format(stream)} is still ${summary.streamStatus}`
          })
      )
    ))

/** @internal */
export const thenWait = (stream: StreamAddress.StreamAddress, options: Kinesis.WaitOptions) =>
<A, E, R>(
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, E | Kinesis.DescribeStreamSummaryError | ResourceInUse, R | KinesisTag> =>
  options.waitUntilActive === true
    ? Effect.tap(self, () => waitUntilActive(stream, options.waitSchedule))
    : self
