/** @internal */
import {
  type AttributeValue,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  type DynamoDBClientConfig,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type QueryCommandOutput,
  type TableDescription,
  UpdateItemCommand,
  type UpdateItemCommandInput,
  UpdateTimeToLiveCommand
} from "@aws-sdk/client-dynamodb"
import * as Checkpointer from "@effect-kinesis/core/Checkpointer"
import { NodeHttpHandler } from "@smithy/node-http-handler"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Http from "node:http"
import * as Https from "node:https"
import * as Os from "node:os"
import type * as DynamoDbCheckpointer from "../DynamoDbCheckpointer.js"

type Item = Record<string, AttributeValue>

/** @internal */
export const defaults = {
  sessionTimeout: Checkpointer.defaults.sessionTimeout,
  maxAttempts: 3,
  requestTimeout: Duration.seconds(10),
  connectionTimeout: Duration.seconds(5),
  maxSockets: 50,
  waitSchedule: Schedule.exponential("50 millis", 1.5).pipe(
    Schedule.union(Schedule.spaced("2 seconds")),
    Schedule.upTo("5 minutes")
  ) as Schedule.Schedule<unknown, unknown>
} as const

/** @internal */
export const attributes = {
  pk: "pk",
  sk: "sk",
  group: "group",
  stream: "stream",
  shardId: "shardId",
  workerId: "workerId",
  owner: "owner",
  leaseCounter: "leaseCounter",
  expiresAt: "expiresAt",
  sequenceNumber: "sequenceNumber",
  subSequenceNumber: "subSequenceNumber",
  ended: "ended",
  handOffTo: "handOffTo",
  lastSeen: "lastSeen",
  deleteAt: "deleteAt"
} as const

/** @internal */
export const partitionKey = (group: string, stream: string): string => `${group}#${stream}`
/** @internal */
export const shardSortKey = (shardId: string): string => `shard#${shardId}`
/** @internal */
export const workerSortKey = (workerId: string): string => `worker#${workerId}`

// ---------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------

const THROTTLING = new Set([
  "ProvisionedThroughputExceededException",
  "ThrottlingException",
  "RequestLimitExceeded"
])

const errorName = (u: unknown): string =>
  Predicate.hasProperty(u, "name") && typeof u.name === "string" ? u.name : "UnknownError"

const errorMessage = (u: unknown): string =>
  Predicate.hasProperty(u, "message") && typeof u.message === "string" && u.message !== "" ? u.message : String(u)

const isConditionalCheckFailed = (u: unknown): boolean => errorName(u) === "ConditionalCheckFailedException"

/** @internal */
export const missingTableMessage = (table: string): string =>
  `DynamoDB table "${table}" not found: create it (partition key "${attributes.pk}" S, sort key "${attributes.sk}" S, ` +
  `e.g. on-demand billing) or set createTable: true`

/**
 * Maps a failed SDK call to a `CheckpointerError` with a message that says what to do.
 *
 * @internal
 */
export const toCheckpointerError = (
  cause: unknown,
  operation: string,
  table: string,
  target?: { readonly stream?: string | undefined; readonly shardId?: string | undefined }
): Checkpointer.CheckpointerError => {
  const name = errorName(cause)
  const where = target?.stream === undefined
    ? ""
    : target.shardId === undefined
    ? ` (${target.stream})`
    : ` (${target.stream}/${target.shardId})`
  const message = name === "ResourceNotFoundException"
    ? `${operation}${where}: ${missingTableMessage(table)}`
    : THROTTLING.has(name)
    ? `${operation}${where}: DynamoDB throttled the request on table "${table}" (${name}): retry with a backoff ` +
      `Schedule, and raise the table's capacity or use on-demand billing if it persists`
    : `${operation}${where}: DynamoDB call on table "${table}" failed: ${name}: ${errorMessage(cause)}`
  return new Checkpointer.CheckpointerError({
    operation,
    stream: target?.stream,
    shardId: target?.shardId,
    message,
    cause
  })
}

/** Runs one SDK call; interruption aborts the HTTP request. Fails with the raw SDK error. */
const send = <A>(f: (abortSignal: AbortSignal) => Promise<A>): Effect.Effect<A, unknown> =>
  Effect.tryPromise({ try: f, catch: (error) => error })

// ---------------------------------------------------------------------------------------------
// expressions
// ---------------------------------------------------------------------------------------------

/**
 * Collects the attribute names and values an expression uses (DynamoDB rejects unused ones).
 */
class Expression {
  readonly names: Record<string, string> = {}
  readonly values: Record<string, AttributeValue> = {}
  name(attribute: keyof typeof attributes): string {
    const placeholder = `#${attribute}`
    this.names[placeholder] = attributes[attribute]
    return placeholder
  }
  value(key: string, value: AttributeValue): string {
    const placeholder = `:${key}`
    this.values[placeholder] = value
    return placeholder
  }
  get params(): {
    ExpressionAttributeNames: Record<string, string>
    ExpressionAttributeValues?: Record<string, AttributeValue>
  } {
    return Object.keys(this.values).length === 0
      ? { ExpressionAttributeNames: this.names }
      : { ExpressionAttributeNames: this.names, ExpressionAttributeValues: this.values }
  }
}

const S = (s: string): AttributeValue => ({ S: s })
const N = (n: number): AttributeValue => ({ N: String(n) })

const str = (item: Item, attribute: keyof typeof attributes): string | undefined => {
  const value = item[attributes[attribute]]
  return value !== undefined && "S" in value && typeof value.S === "string" ? value.S : undefined
}
const num = (item: Item, attribute: keyof typeof attributes): number | undefined => {
  const value = item[attributes[attribute]]
  return value !== undefined && "N" in value && typeof value.N === "string" ? Number(value.N) : undefined
}
const bool = (item: Item, attribute: keyof typeof attributes): boolean => {
  const value = item[attributes[attribute]]
  return value !== undefined && "BOOL" in value && value.BOOL === true
}

const toShardState = (item: Item): Checkpointer.ShardState => {
  const sequenceNumber = str(item, "sequenceNumber")
  const subSequenceNumber = num(item, "subSequenceNumber")
  const sk = str(item, "sk") ?? ""
  return {
    shardId: str(item, "shardId") ?? sk.slice(sk.indexOf("#") + 1),
    owner: str(item, "owner"),
    leaseCounter: num(item, "leaseCounter") ?? 0,
    expiresAt: num(item, "expiresAt") ?? 0,
    checkpoint: sequenceNumber === undefined
      ? undefined
      : subSequenceNumber === undefined
      ? { sequenceNumber }
      : { sequenceNumber, subSequenceNumber },
    ended: bool(item, "ended"),
    handOffTo: str(item, "handOffTo")
  }
}

const toWorker = (item: Item): Checkpointer.Worker => ({
  workerId: str(item, "workerId") ?? "",
  lastSeen: num(item, "lastSeen") ?? 0,
  expiresAt: num(item, "expiresAt") ?? 0
})

/** Sets or removes the checkpoint attributes (`subSequenceNumber` is removed when absent). */
const writeCheckpoint = (
  e: Expression,
  checkpoint: Checkpointer.Checkpoint,
  set: Array<string>,
  remove: Array<string>
): void => {
  set.push(`${e.name("sequenceNumber")} = ${e.value("seq", S(checkpoint.sequenceNumber))}`)
  if (checkpoint.subSequenceNumber === undefined) remove.push(e.name("subSequenceNumber"))
  else set.push(`${e.name("subSequenceNumber")} = ${e.value("sub", N(checkpoint.subSequenceNumber))}`)
}

const updateExpression = (set: ReadonlyArray<string>, add: ReadonlyArray<string>, remove: ReadonlyArray<string>) =>
  [
    set.length > 0 ? `SET ${set.join(", ")}` : "",
    add.length > 0 ? `ADD ${add.join(", ")}` : "",
    remove.length > 0 ? `REMOVE ${remove.join(", ")}` : ""
  ].filter((part) => part !== "").join(" ")

// ---------------------------------------------------------------------------------------------
// table
// ---------------------------------------------------------------------------------------------

const checkKeySchema = (table: string, description: TableDescription | undefined) => {
  const keys = description?.KeySchema ?? []
  const types = new Map((description?.AttributeDefinitions ?? []).map((d) => [d.AttributeName, d.AttributeType]))
  const hash = keys.find((k) => k.KeyType === "HASH")?.AttributeName
  const range = keys.find((k) => k.KeyType === "RANGE")?.AttributeName
  if (
    hash === attributes.pk && range === attributes.sk && types.get(attributes.pk) === "S" &&
    types.get(attributes.sk) === "S"
  ) return Effect.void
  return Effect.fail(
    new Checkpointer.CheckpointerError({
      operation: "describeTable",
      message: `DynamoDB table "${table}" has the key schema ${
        keys.map((k) => `${k.AttributeName} ${k.KeyType} (${types.get(k.AttributeName) ?? "?"})`).join(", ")
      }; the checkpointer needs partition key "${attributes.pk}" (S) and sort key "${attributes.sk}" (S)`
    })
  )
}

/** Describes the table until it is ACTIVE (or UPDATING: usable), then checks its keys. */
const waitUntilUsable = (
  client: DynamoDBClient,
  table: string,
  schedule: Schedule.Schedule<unknown, unknown>
): Effect.Effect<TableDescription | undefined, Checkpointer.CheckpointerError> =>
  send((abortSignal) => client.send(new DescribeTableCommand({ TableName: table }), { abortSignal })).pipe(
    Effect.mapError((cause) => toCheckpointerError(cause, "describeTable", table)),
    Effect.map((out) => out.Table),
    // only a table being created is worth waiting for (DELETING, ARCHIVED… will not become ACTIVE)
    Effect.repeat(
      Schedule.recurWhile((t: TableDescription | undefined) => t?.TableStatus === "CREATING").pipe(
        Schedule.passthrough,
        Schedule.zipLeft(schedule)
      )
    ),
    Effect.filterOrFail(
      (t) => t?.TableStatus === "ACTIVE" || t?.TableStatus === "UPDATING",
      (t) =>
        new Checkpointer.CheckpointerError({
          operation: "describeTable",
          message: t?.TableStatus === "CREATING"
            ? `DynamoDB table "${table}" is still CREATING: gave up waiting for ACTIVE`
            : `DynamoDB table "${table}" is ${t?.TableStatus ?? "in an unknown state"}, not ACTIVE`
        })
    ),
    Effect.tap((t) => checkKeySchema(table, t))
  )

const enableTimeToLive = (
  client: DynamoDBClient,
  table: string
): Effect.Effect<void, Checkpointer.CheckpointerError> => {
  const unsupported = (operation: string) =>
    Effect.logWarning(
      `DynamoDB endpoint does not support ${operation} (e.g. dynalite): TTL is not enabled on table "${table}", ` +
        `so items past their "${attributes.deleteAt}" stay until deleted otherwise`
    )
  return send((abortSignal) => client.send(new DescribeTimeToLiveCommand({ TableName: table }), { abortSignal })).pipe(
    Effect.map((out) => out.TimeToLiveDescription),
    Effect.catchIf(
      (cause) => errorName(cause) === "UnknownOperationException",
      () => Effect.succeed(undefined)
    ),
    Effect.flatMap((current) => {
      const status = current?.TimeToLiveStatus
      if ((status === "ENABLED" || status === "ENABLING") && current?.AttributeName === attributes.deleteAt) {
        return Effect.void
      }
      if (status === "ENABLED" || status === "ENABLING") {
        return Effect.logWarning(
          `DynamoDB table "${table}" has TTL on attribute "${current?.AttributeName}", not "${attributes.deleteAt}": ` +
            `the checkpointer's items will not expire (a table has one TTL attribute)`
        )
      }
      return send((abortSignal) =>
        client.send(
          new UpdateTimeToLiveCommand({
            TableName: table,
            TimeToLiveSpecification: { Enabled: true, AttributeName: attributes.deleteAt }
          }),
          { abortSignal }
        )
      ).pipe(
        Effect.asVoid,
        Effect.catchIf(
          (cause) => errorName(cause) === "UnknownOperationException",
          () => unsupported("UpdateTimeToLive")
        ),
        // another worker enabled it between our describe and update
        Effect.catchIf(
          (cause) => errorName(cause) === "ValidationException" && /already enabled/i.test(errorMessage(cause)),
          () => Effect.void
        )
      )
    }),
    Effect.mapError((cause) => toCheckpointerError(cause, "updateTimeToLive", table))
  )
}

/** @internal */
export const ensureTable = (
  client: DynamoDBClient,
  options: DynamoDbCheckpointer.EnsureTableOptions
): Effect.Effect<void, Checkpointer.CheckpointerError> => {
  const table = options.table
  const create = send((abortSignal) =>
    client.send(
      new CreateTableCommand({
        TableName: table,
        AttributeDefinitions: [
          { AttributeName: attributes.pk, AttributeType: "S" },
          { AttributeName: attributes.sk, AttributeType: "S" }
        ],
        KeySchema: [
          { AttributeName: attributes.pk, KeyType: "HASH" },
          { AttributeName: attributes.sk, KeyType: "RANGE" }
        ],
        BillingMode: "PAY_PER_REQUEST"
      }),
      { abortSignal }
    )
  ).pipe(
    Effect.asVoid,
    // it exists already (or another worker is creating it): wait for it like for our own
    Effect.catchIf((cause) => errorName(cause) === "ResourceInUseException", () => Effect.void),
    Effect.mapError((cause) => toCheckpointerError(cause, "createTable", table))
  )
  return create.pipe(
    Effect.zipRight(waitUntilUsable(client, table, options.waitSchedule ?? defaults.waitSchedule)),
    Effect.zipRight(options.ttl === undefined ? Effect.void : enableTimeToLive(client, table))
  )
}

/** Without createTable: the table must exist (AccessDenied on DescribeTable skips the check). */
const checkTable = (
  client: DynamoDBClient,
  table: string,
  schedule: Schedule.Schedule<unknown, unknown>
): Effect.Effect<void, Checkpointer.CheckpointerError> =>
  waitUntilUsable(client, table, schedule).pipe(
    Effect.asVoid,
    Effect.catchIf(
      (error) => errorName(error.cause) === "AccessDeniedException",
      (error) =>
        Effect.logWarning(
          `cannot describe DynamoDB table "${table}" (AccessDeniedException): skipping the check that it exists`
        ).pipe(Effect.annotateLogs("cause", errorMessage(error.cause)))
    )
  )

// ---------------------------------------------------------------------------------------------
// client
// ---------------------------------------------------------------------------------------------

/** @internal */
export const clientConfig = (options: DynamoDbCheckpointer.ClientOptions = {}): DynamoDBClientConfig => {
  const config: DynamoDBClientConfig = {
    ...options.clientConfig,
    maxAttempts: options.maxAttempts ?? options.clientConfig?.maxAttempts ?? defaults.maxAttempts
  }
  if (options.region !== undefined) config.region = options.region
  if (options.endpoint !== undefined) config.endpoint = options.endpoint
  if (options.credentials !== undefined) config.credentials = options.credentials
  if (options.requestHandler !== undefined) {
    config.requestHandler = options.requestHandler
  } else if (options.endpoint !== undefined && options.endpoint.startsWith("http://")) {
    // Local servers (dynalite) speak HTTP/1.1: keep-alive sockets and explicit timeouts.
    const maxSockets = options.maxSockets ?? defaults.maxSockets
    config.requestHandler = new NodeHttpHandler({
      httpAgent: new Http.Agent({ keepAlive: true, maxSockets }),
      httpsAgent: new Https.Agent({ keepAlive: true, maxSockets }),
      requestTimeout: Duration.toMillis(options.requestTimeout ?? defaults.requestTimeout),
      connectionTimeout: Duration.toMillis(options.connectionTimeout ?? defaults.connectionTimeout)
    })
  }
  return config
}

/** @internal */
export const makeClient = (
  options?: DynamoDbCheckpointer.ClientOptions
): Effect.Effect<DynamoDBClient, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => new DynamoDBClient(clientConfig(options))),
    (client) => Effect.sync(() => client.destroy())
  )

// ---------------------------------------------------------------------------------------------
// service
// ---------------------------------------------------------------------------------------------

/** @internal */
export const make = (
  options: DynamoDbCheckpointer.DynamoDbCheckpointerOptions
): Effect.Effect<Checkpointer.Service, Checkpointer.CheckpointerError, Scope.Scope> =>
  Effect.gen(function*() {
    const { group, table } = options
    if (group === "") {
      return yield* new Checkpointer.CheckpointerError({ operation: "make", message: "group must not be empty" })
    }
    const { heartbeatInterval, sessionTimeout, workerId } = Checkpointer.resolveOptions(
      options,
      `${Os.hostname()}-${process.pid}`
    )
    const client = options.client ?? (yield* makeClient(options))
    const waitSchedule = options.waitSchedule ?? defaults.waitSchedule
    if (options.createTable === true) {
      yield* ensureTable(client, { table, ttl: options.ttl, waitSchedule })
    } else {
      yield* checkTable(client, table, waitSchedule)
    }
    return fromClient(client, {
      group,
      table,
      workerId,
      sessionTimeout,
      heartbeatInterval,
      ttl: options.ttl,
      pageSize: options.pageSize
    })
  })

/** @internal */
export const fromClient = (client: DynamoDBClient, options: {
  readonly group: string
  readonly table: string
  readonly workerId: string
  readonly sessionTimeout: Duration.Duration
  readonly heartbeatInterval: Duration.Duration
  readonly ttl?: Duration.DurationInput | undefined
  readonly pageSize?: number | undefined
}): Checkpointer.Service => {
  const { group, heartbeatInterval, sessionTimeout, table, workerId } = options
  const leaseMillis = Duration.toMillis(sessionTimeout)
  const ttlMillis = options.ttl === undefined ? undefined : Duration.toMillis(Duration.decode(options.ttl))
  /** DynamoDB TTL wants epoch seconds. */
  const deleteAtSeconds = (epochMillis: number) => Math.ceil(epochMillis / 1000)
  const shardKey = (stream: string, shardId: string): Item => ({
    [attributes.pk]: S(partitionKey(group, stream)),
    [attributes.sk]: S(shardSortKey(shardId))
  })
  const fail = (operation: string, stream?: string, shardId?: string) => (cause: unknown) =>
    toCheckpointerError(cause, operation, table, { stream, shardId })

  const getItem = (operation: string, stream: string, shardId: string) =>
    send((abortSignal) =>
      client.send(
        new GetItemCommand({ TableName: table, Key: shardKey(stream, shardId), ConsistentRead: true }),
        { abortSignal }
      )
    ).pipe(
      Effect.map((out) => Option.fromNullable(out.Item)),
      Effect.mapError(fail(operation, stream, shardId))
    )

  /** One conditional UpdateItem: `Right(new item)`, or `Left(old item when the server returned it)`. */
  const conditionalUpdate = (
    operation: string,
    stream: string,
    shardId: string,
    input: Omit<UpdateItemCommandInput, "TableName" | "Key" | "ReturnValuesOnConditionCheckFailure">
  ): Effect.Effect<Either.Either<Item, Option.Option<Item>>, Checkpointer.CheckpointerError> =>
    send((abortSignal) =>
      client.send(
        new UpdateItemCommand({
          ...input,
          TableName: table,
          Key: shardKey(stream, shardId),
          // DynamoDB returns the item that failed the condition (dynalite ignores it: we read it instead)
          ReturnValuesOnConditionCheckFailure: "ALL_OLD"
        }),
        { abortSignal }
      )
    ).pipe(
      Effect.map((out): Either.Either<Item, Option.Option<Item>> => Either.right(out.Attributes ?? {})),
      Effect.catchIf(isConditionalCheckFailed, (cause) =>
        Effect.succeed(
          Either.left(
            Option.fromNullable(
              Predicate.hasProperty(cause, "Item") && Predicate.isRecord(cause.Item) ? cause.Item as Item : undefined
            )
          )
        )),
      Effect.mapError(fail(operation, stream, shardId))
    )

  /**
   * A write fenced by the lease: one UpdateItem conditioned on the stored owner and counter. When the
   * condition fails, the current holder (from the failure, or a read) goes into `LeaseLost`.
   */
  const fenced = (
    operation: string,
    lease: Checkpointer.Lease,
    build: (e: Expression, set: Array<string>, remove: Array<string>, now: number) => void,
    returnNew = false
  ): Effect.Effect<Item, Checkpointer.LeaseLost | Checkpointer.CheckpointerError> =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const e = new Expression()
      const set: Array<string> = []
      const remove: Array<string> = []
      build(e, set, remove, now)
      const condition = `${e.name("owner")} = ${e.value("me", S(lease.owner))} AND ` +
        `${e.name("leaseCounter")} = ${e.value("counter", N(lease.leaseCounter))}`
      const result = yield* conditionalUpdate(operation, lease.stream, lease.shardId, {
        UpdateExpression: updateExpression(set, [], remove),
        ConditionExpression: condition,
        ...e.params,
        ReturnValues: returnNew ? "ALL_NEW" : "NONE"
      })
      if (Either.isRight(result)) return result.right
      const current = Option.isSome(result.left)
        ? result.left
        : yield* getItem(operation, lease.stream, lease.shardId)
      const state = Option.map(current, toShardState)
      return yield* new Checkpointer.LeaseLost({
        stream: lease.stream,
        shardId: lease.shardId,
        owner: lease.owner,
        leaseCounter: lease.leaseCounter,
        currentOwner: Option.isSome(state) ? state.value.owner : undefined,
        currentLeaseCounter: Option.isSome(state) ? state.value.leaseCounter : 0
      })
    })

  /** Every item of the partition whose sort key starts with `prefix`, page by page. */
  const query = (
    operation: string,
    stream: string,
    prefix: string,
    filter?: (e: Expression) => string
  ): Effect.Effect<Array<Item>, Checkpointer.CheckpointerError> =>
    Effect.gen(function*() {
      const e = new Expression()
      const keyCondition = `${e.name("pk")} = ${e.value("pk", S(partitionKey(group, stream)))} AND ` +
        `begins_with(${e.name("sk")}, ${e.value("prefix", S(prefix))})`
      const filterExpression = filter?.(e)
      const items: Array<Item> = []
      let startKey: Item | undefined = undefined
      do {
        const exclusiveStartKey: Item | undefined = startKey
        const out: QueryCommandOutput = yield* send((abortSignal) =>
          client.send(
            new QueryCommand({
              TableName: table,
              KeyConditionExpression: keyCondition,
              ...(filterExpression === undefined ? {} : { FilterExpression: filterExpression }),
              ...e.params,
              ConsistentRead: true,
              ...(options.pageSize === undefined ? {} : { Limit: options.pageSize }),
              ...(exclusiveStartKey === undefined ? {} : { ExclusiveStartKey: exclusiveStartKey })
            }),
            { abortSignal }
          )
        ).pipe(Effect.mapError(fail(operation, stream)))
        items.push(...(out.Items ?? []))
        startKey = out.LastEvaluatedKey !== undefined && Object.keys(out.LastEvaluatedKey).length > 0
          ? out.LastEvaluatedKey
          : undefined
      } while (startKey !== undefined)
      return items
    })

  /**
   * One attempt at taking the lease: an UpdateItem that increments the counter, conditioned so that it
   * only lands in the states `acquire` may take (`takeOver` splits them by whether the hand-off request
   * must be cleared: a request is about the previous owner).
   */
  const tryAcquire = (stream: string, shardId: string, now: number, takeOver: boolean) => {
    const e = new Expression()
    const me = e.value("me", S(workerId))
    const owner = e.name("owner")
    const handOffTo = e.name("handOffTo")
    const set = [
      `${owner} = ${me}`,
      `${e.name("expiresAt")} = ${e.value("expiresAt", N(now + leaseMillis))}`,
      `${e.name("group")} = ${e.value("group", S(group))}`,
      `${e.name("stream")} = ${e.value("stream", S(stream))}`,
      `${e.name("shardId")} = ${e.value("shardId", S(shardId))}`
    ]
    const add = [`${e.name("leaseCounter")} ${e.value("one", N(1))}`]
    const condition = takeOver
      // free, released, expired and someone else's — or (never stored, but kept exact) handed off to us
      ? `attribute_not_exists(${owner}) OR (${owner} <> ${me} AND ${e.name("expiresAt")} <= ${
        e.value("now", N(now))
      }) OR (${owner} = ${me} AND ${handOffTo} = ${me})`
      // already ours: the counter moves on, a hand-off request to another worker stays
      : `${owner} = ${me} AND (attribute_not_exists(${handOffTo}) OR ${handOffTo} <> ${me})`
    return conditionalUpdate("acquire", stream, shardId, {
      UpdateExpression: updateExpression(set, add, takeOver ? [handOffTo] : []),
      ConditionExpression: condition,
      ...e.params,
      ReturnValues: "ALL_NEW"
    })
  }

  const service: Checkpointer.Service = {
    workerId,
    sessionTimeout,
    heartbeatInterval,
    acquire: (stream, shardId) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        let result = yield* tryAcquire(stream, shardId, now, true)
        // The take-over condition failed: the lease is held, by us or by another worker. The server may
        // have said by whom (DynamoDB does, dynalite does not): only when it is ours is a second try useful.
        if (
          Either.isLeft(result) &&
          (Option.isNone(result.left) || str(result.left.value, "owner") === workerId)
        ) {
          result = yield* tryAcquire(stream, shardId, now, false)
        }
        if (Either.isLeft(result)) return Option.none()
        const state = toShardState(result.right)
        const lease: Checkpointer.Lease = { stream, shardId, owner: workerId, leaseCounter: state.leaseCounter }
        return Option.some([lease, state] as const)
      }),
    renew: (lease) =>
      Effect.map(
        fenced("renew", lease, (e, set, _remove, now) => {
          set.push(`${e.name("expiresAt")} = ${e.value("expiresAt", N(now + leaseMillis))}`)
        }, true),
        toShardState
      ),
    release: (lease) =>
      Effect.asVoid(
        fenced("release", lease, (e, set, remove) => {
          set.push(`${e.name("expiresAt")} = ${e.value("zero", N(0))}`)
          remove.push(e.name("owner"), e.name("handOffTo"))
        })
      ),
    checkpoint: (lease, checkpoint) =>
      Effect.asVoid(
        fenced("checkpoint", lease, (e, set, remove) => {
          writeCheckpoint(e, checkpoint, set, remove)
        })
      ),
    markEnded: (lease, checkpoint) =>
      Effect.asVoid(
        fenced("markEnded", lease, (e, set, remove, now) => {
          set.push(`${e.name("ended")} = ${e.value("true", { BOOL: true })}`)
          if (checkpoint !== undefined) writeCheckpoint(e, checkpoint, set, remove)
          if (ttlMillis !== undefined) {
            set.push(`${e.name("deleteAt")} = ${e.value("deleteAt", N(deleteAtSeconds(now + ttlMillis)))}`)
          }
        })
      ),
    requestHandOff: (stream, shardId, to) =>
      Effect.suspend(() => {
        const e = new Expression()
        const target = e.value("to", S(to))
        return conditionalUpdate("requestHandOff", stream, shardId, {
          UpdateExpression: `SET ${e.name("handOffTo")} = ${target}`,
          ConditionExpression: `attribute_exists(${e.name("owner")}) AND ${e.name("owner")} <> ${target}`,
          ...e.params,
          ReturnValues: "NONE"
        })
      }).pipe(Effect.asVoid),
    get: (stream, shardId) => Effect.map(getItem("get", stream, shardId), Option.map(toShardState)),
    list: (stream) => Effect.map(query("list", stream, shardSortKey("")), (items) => items.map(toShardState)),
    heartbeat: (stream) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const expiresAt = now + leaseMillis
        const item: Item = {
          [attributes.pk]: S(partitionKey(group, stream)),
          [attributes.sk]: S(workerSortKey(workerId)),
          [attributes.group]: S(group),
          [attributes.stream]: S(stream),
          [attributes.workerId]: S(workerId),
          [attributes.lastSeen]: N(now),
          [attributes.expiresAt]: N(expiresAt)
        }
        if (ttlMillis !== undefined) item[attributes.deleteAt] = N(deleteAtSeconds(expiresAt + ttlMillis))
        return send((abortSignal) => client.send(new PutItemCommand({ TableName: table, Item: item }), { abortSignal }))
          .pipe(Effect.asVoid, Effect.mapError(fail("heartbeat", stream)))
      }),
    workers: (stream) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.map(
          query("workers", stream, workerSortKey(""), (e) => `${e.name("expiresAt")} > ${e.value("now", N(now))}`),
          (items) => items.map(toWorker)
        )),
    leave: (stream) =>
      send((abortSignal) =>
        client.send(
          new DeleteItemCommand({
            TableName: table,
            Key: { [attributes.pk]: S(partitionKey(group, stream)), [attributes.sk]: S(workerSortKey(workerId)) }
          }),
          { abortSignal }
        )
      ).pipe(Effect.asVoid, Effect.mapError(fail("leave", stream)))
  }
  return service
}

/** @internal */
export const layer = (
  options: DynamoDbCheckpointer.DynamoDbCheckpointerOptions
): Layer.Layer<Checkpointer.Checkpointer, Checkpointer.CheckpointerError> =>
  Layer.scoped(Checkpointer.Checkpointer, make(options))

// ---------------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------------

/** @internal */
export const config: Config.Config<DynamoDbCheckpointer.DynamoDbCheckpointerConfig> = Config.all({
  group: Config.nonEmptyString("KINESIS_CHECKPOINT_GROUP"),
  table: Config.nonEmptyString("KINESIS_CHECKPOINT_TABLE"),
  createTable: Config.boolean("KINESIS_CHECKPOINT_CREATE_TABLE").pipe(Config.withDefault(false)),
  ttl: Config.option(Config.duration("KINESIS_CHECKPOINT_TTL")),
  workerId: Config.option(Config.nonEmptyString("KINESIS_CHECKPOINT_WORKER_ID")),
  sessionTimeout: Config.option(Config.duration("KINESIS_CHECKPOINT_SESSION_TIMEOUT")),
  heartbeatInterval: Config.option(Config.duration("KINESIS_CHECKPOINT_HEARTBEAT_INTERVAL")),
  region: Config.option(Config.nonEmptyString("AWS_REGION")),
  endpoint: Config.option(Config.nonEmptyString("DYNAMODB_ENDPOINT")),
  accessKeyId: Config.option(Config.redacted("AWS_ACCESS_KEY_ID")),
  secretAccessKey: Config.option(Config.redacted("AWS_SECRET_ACCESS_KEY")),
  sessionToken: Config.option(Config.redacted("AWS_SESSION_TOKEN")),
  maxAttempts: Config.integer("DYNAMODB_MAX_ATTEMPTS").pipe(Config.withDefault(defaults.maxAttempts))
}).pipe(Config.map((c): DynamoDbCheckpointer.DynamoDbCheckpointerConfig => ({
  group: c.group,
  table: c.table,
  createTable: c.createTable,
  maxAttempts: c.maxAttempts,
  ttl: Option.getOrUndefined(c.ttl),
  workerId: Option.getOrUndefined(c.workerId),
  sessionTimeout: Option.getOrUndefined(c.sessionTimeout),
  heartbeatInterval: Option.getOrUndefined(c.heartbeatInterval),
  region: Option.getOrUndefined(c.region),
  endpoint: Option.getOrUndefined(c.endpoint),
  credentials: Option.isSome(c.accessKeyId) && Option.isSome(c.secretAccessKey)
    ? {
      accessKeyId: Redacted.value(c.accessKeyId.value),
      secretAccessKey: Redacted.value(c.secretAccessKey.value),
      ...(Option.isSome(c.sessionToken) ? { sessionToken: Redacted.value(c.sessionToken.value) } : {})
    }
    : undefined
})))

/** @internal */
export const layerConfig = (
  config: Config.Config.Wrap<DynamoDbCheckpointer.DynamoDbCheckpointerConfig>
): Layer.Layer<Checkpointer.Checkpointer, ConfigError.ConfigError | Checkpointer.CheckpointerError> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))
