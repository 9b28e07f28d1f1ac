/**
 * The DynamoDB Checkpointer against the test run's dynalite: the core conformance suite (one table,
 * created by the first worker, every case's namespace as its group), then what is DynamoDB's own: the
 * table layout, createTable and TTL, many groups and streams in one table, a missing table, Config,
 * client ownership, pagination, throttling and the worker's Clock.
 */
import {
  type AttributeValue,
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  ProvisionedThroughputExceededException,
  ThrottlingException
} from "@aws-sdk/client-dynamodb"
import { DynamoDbCheckpointer } from "@effect-kinesis/checkpoint-dynamodb"
import * as Checkpointer from "@effect-kinesis/core/Checkpointer"
import * as CheckpointerSuite from "@effect-kinesis/core/testing/CheckpointerSuite"
import { LocalDynamoDb } from "@effect-kinesis/local"
import { assert, describe, it } from "@effect/vitest"
import {
  Config,
  ConfigError,
  ConfigProvider,
  Duration,
  Effect,
  Exit,
  Logger,
  Option,
  Schedule,
  Scope,
  TestClock
} from "effect"
import { inject } from "vitest"

const { endpoint, region } = inject("dynalite")
const credentials = { accessKeyId: "local", secretAccessKey: "local" }
const server = { endpoint, region, credentials } as const

let counter = 0
/** A name no other test uses (dynalite is shared by the whole run). */
const fresh = (prefix: string): string =>
  `${prefix}-${process.pid}-${Date.now().toString(36)}-${(counter++).toString(36)}`

const TABLE = fresh("checkpoints")
const seq = (n: number): string => `49590338271490256608559692538361571095921575989136${String(n).padStart(6, "0")}`

CheckpointerSuite.run("DynamoDbCheckpointer (conformance, dynalite)", {
  makeWorker: ({ namespace, ...options }) =>
    DynamoDbCheckpointer.make({ ...options, ...server, group: namespace, table: TABLE, createTable: true })
})

/** A client of the test's own, destroyed with the test's scope. */
const testClient = Effect.acquireRelease(
  Effect.sync(() => new DynamoDBClient({ ...server, maxAttempts: 1 })),
  (client) => Effect.sync(() => client.destroy())
)

const acquired = (result: Option.Option<readonly [Checkpointer.Lease, Checkpointer.ShardState]>) =>
  Option.getOrElse(result, () => assert.fail("expected the lease to be acquired"))

const rawItem = (client: DynamoDBClient, table: string, pk: string, sk: string) =>
  Effect.promise(() =>
    client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: pk }, sk: { S: sk } }, ConsistentRead: true }))
  ).pipe(Effect.map((out): Record<string, AttributeValue> => out.Item ?? assert.fail(`no item ${pk} / ${sk}`)))

/** Runs `effect` with a logger that records every message (and still no output). */
const withLogs = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const logs: Array<string> = []
    const logger = Logger.make(({ message }) => {
      logs.push(Array.isArray(message) ? message.map(String).join(" ") : String(message))
    })
    return effect.pipe(
      Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
      Effect.map((result) => [result, logs] as const)
    )
  })

describe("DynamoDbCheckpointer", () => {
  it.scopedLive("stores the documented layout: pk group#stream, sk shard#id / worker#id, strings for sequence numbers", () =>
    Effect.gen(function*() {
      const client = yield* testClient
      const group = fresh("layout")
      const a = yield* DynamoDbCheckpointer.make({
        client,
        group,
        table: TABLE,
        workerId: "w#1",
        sessionTimeout: "10 seconds",
        createTable: true
      })
      const [lease] = acquired(yield* a.acquire("orders", "shardId-000000000007"))
      yield* a.checkpoint(lease, { sequenceNumber: seq(42), subSequenceNumber: 0 })
      yield* a.heartbeat("orders")

      const shard = yield* rawItem(client, TABLE, `${group}#orders`, "shard#shardId-000000000007")
      assert.deepStrictEqual(shard.sequenceNumber, { S: seq(42) })
      assert.deepStrictEqual(shard.subSequenceNumber, { N: "0" })
      assert.deepStrictEqual(shard.owner, { S: "w#1" })
      assert.deepStrictEqual(shard.leaseCounter, { N: "1" })
      assert.deepStrictEqual(shard.group, { S: group })
      assert.deepStrictEqual(shard.stream, { S: "orders" })
      assert.strictEqual(shard.deleteAt, undefined, "no deleteAt without ttl")
      const worker = yield* rawItem(client, TABLE, DynamoDbCheckpointer.partitionKey(group, "orders"), "worker#w#1")
      assert.deepStrictEqual(worker.workerId, { S: "w#1" })

      const state = Option.getOrThrow(yield* a.get("orders", "shardId-000000000007"))
      assert.deepStrictEqual(state.checkpoint, { sequenceNumber: seq(42), subSequenceNumber: 0 })
      assert.deepStrictEqual((yield* a.workers("orders")).map((w) => w.workerId), ["w#1"])
    }))

  it.scopedLive("createTable is idempotent: layers racing to create one table, and a later one, all work", () =>
    Effect.gen(function*() {
      const table = fresh("idempotent")
      const group = fresh("g")
      const worker = (workerId: string) =>
        DynamoDbCheckpointer.make({
          ...server,
          group,
          table,
          workerId,
          sessionTimeout: "10 seconds",
          createTable: true
        })
      const [a, b] = yield* Effect.all([worker("a"), worker("b")], { concurrency: "unbounded" })
      const [lease] = acquired(yield* a.acquire("s", "shard-0"))
      assert.isTrue(Option.isNone(yield* b.acquire("s", "shard-0")))
      yield* a.checkpoint(lease, { sequenceNumber: seq(1) })

      // a second layer on the existing table, through the Checkpointer tag
      const state = yield* Effect.gen(function*() {
        const c = yield* Checkpointer.Checkpointer
        assert.strictEqual(c.workerId, "c")
        return yield* c.get("s", "shard-0")
      }).pipe(
        Effect.provide(
          DynamoDbCheckpointer.layer({ ...server, group, table, workerId: "c", createTable: true })
        )
      )
      assert.deepStrictEqual(Option.getOrThrow(state).checkpoint, { sequenceNumber: seq(1) })

      // and without createTable the existing table is accepted
      const d = yield* DynamoDbCheckpointer.make({ ...server, group, table, workerId: "d" })
      assert.strictEqual(Option.getOrThrow(yield* d.get("s", "shard-0")).owner, "a")
    }))

  it.scopedLive("createTable waits until the table is ACTIVE (a dynalite that takes 300 ms to create)", () =>
    Effect.gen(function*() {
      const slow = yield* LocalDynamoDb.dynalite({ createTableMs: 300 })
      const options = { endpoint: slow.endpoint, region: slow.region, credentials: slow.credentials }
      const client = yield* Effect.acquireRelease(
        Effect.sync(() => new DynamoDBClient({ ...options, maxAttempts: 1 })),
        (c) => Effect.sync(() => c.destroy())
      )
      const table = fresh("slow")
      const started = Date.now()
      const [a, b] = yield* Effect.all([
        DynamoDbCheckpointer.make({ client, group: "g", table, workerId: "a", createTable: true }),
        // started while the table is CREATING: without createTable it waits as well
        Effect.zipRight(
          Effect.sleep("100 millis"),
          DynamoDbCheckpointer.make({ client, group: "g", table, workerId: "b" })
        )
      ], { concurrency: "unbounded" })
      assert.isAtLeast(Date.now() - started, 250)
      const described = yield* Effect.promise(() => client.send(new DescribeTableCommand({ TableName: table })))
      assert.strictEqual(described.Table?.TableStatus, "ACTIVE")
      assert.strictEqual(described.Table?.BillingModeSummary?.BillingMode, "PAY_PER_REQUEST")
      assert.isTrue(Option.isSome(yield* a.acquire("s", "shard-0")))
      assert.isTrue(Option.isNone(yield* b.acquire("s", "shard-0")))
    }))

  it.scopedLive("a table with another key schema is refused with a CheckpointerError that says which keys it needs", () =>
    Effect.gen(function*() {
      const client = yield* testClient
      const table = fresh("wrong-keys")
      yield* Effect.promise(() =>
        client.send(
          new CreateTableCommand({
            TableName: table,
            AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
            KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
            BillingMode: "PAY_PER_REQUEST"
          })
        )
      )
      for (const createTable of [false, true]) {
        const error = yield* Effect.flip(DynamoDbCheckpointer.make({ client, group: "g", table, createTable }))
        assert.strictEqual(error._tag, "CheckpointerError")
        assert.include(error.message, `"${table}" has the key schema id HASH (S)`)
        assert.include(error.message, `partition key "pk" (S) and sort key "sk" (S)`)
      }
    }))

  it.scopedLive("ttl: deleteAt on ended shards and on heartbeats; dynalite's missing UpdateTimeToLive is one log line", () =>
    Effect.gen(function*() {
      const client = yield* testClient
      const table = fresh("ttl")
      const group = fresh("g")
      const [a, logs] = yield* withLogs(
        DynamoDbCheckpointer.make({
          client,
          group,
          table,
          workerId: "a",
          sessionTimeout: "10 seconds",
          createTable: true,
          ttl: "1 day"
        })
      )
      const ttlLines = logs.filter((line) => line.includes("UpdateTimeToLive"))
      assert.strictEqual(ttlLines.length, 1, `expected one line about UpdateTimeToLive, got ${JSON.stringify(logs)}`)
      assert.match(ttlLines[0]!, new RegExp(`TTL is not enabled on table "${table}"`))

      const before = Date.now()
      const [l0] = acquired(yield* a.acquire("s", "shard-0"))
      yield* a.checkpoint(l0, { sequenceNumber: seq(1) })
      const [l1] = acquired(yield* a.acquire("s", "shard-1"))
      yield* a.markEnded(l1, { sequenceNumber: seq(2) })
      yield* a.heartbeat("s")
      const after = Date.now()
      const day = 86_400

      const open = yield* rawItem(client, table, `${group}#s`, "shard#shard-0")
      assert.strictEqual(open.deleteAt, undefined, "an open shard is never deleted")
      const ended = yield* rawItem(client, table, `${group}#s`, "shard#shard-1")
      const endedAt = Number(ended.deleteAt?.N)
      assert.isAtLeast(endedAt, Math.floor(before / 1000) + day)
      assert.isAtMost(endedAt, Math.ceil(after / 1000) + day)
      const worker = yield* rawItem(client, table, `${group}#s`, "worker#a")
      const workerAt = Number(worker.deleteAt?.N)
      assert.isAtLeast(workerAt, Math.floor((before + 10_000) / 1000) + day)
      assert.isAtMost(workerAt, Math.ceil((after + 10_000) / 1000) + day)

      // the same table again: the TTL check runs again, nothing else breaks
      const [b] = yield* withLogs(
        DynamoDbCheckpointer.make({ client, group, table, workerId: "b", createTable: true, ttl: "1 day" })
      )
      assert.isTrue(Option.getOrThrow(yield* b.get("s", "shard-1")).ended)
    }))

  it.scopedLive("two groups and two streams in one table are independent", () =>
    Effect.gen(function*() {
      const client = yield* testClient
      const [g1, g2] = [fresh("g1"), fresh("g2")]
      const make = (group: string) =>
        DynamoDbCheckpointer.make({
          client,
          group,
          table: TABLE,
          workerId: "same-worker",
          sessionTimeout: "10 seconds"
        })
      const one = yield* make(g1)
      const two = yield* make(g2)
      const other = yield* DynamoDbCheckpointer.make({
        client,
        group: g1,
        table: TABLE,
        workerId: "other-worker",
        sessionTimeout: "10 seconds"
      })

      // the same shard of the same streams is a separate lease in each group
      const leases = yield* Effect.forEach(
        [[one, "s1"], [one, "s2"], [two, "s1"], [two, "s2"]] as const,
        ([worker, stream], i) =>
          Effect.gen(function*() {
            const [lease] = acquired(yield* worker.acquire(stream, "shard-0"))
            assert.strictEqual(lease.leaseCounter, 1)
            yield* worker.checkpoint(lease, { sequenceNumber: seq(i) })
            yield* worker.heartbeat(stream)
            return lease
          })
      )
      // another worker of g1 sees g1's leases held
      assert.isTrue(Option.isNone(yield* other.acquire("s1", "shard-0")))
      assert.isTrue(Option.isNone(yield* other.acquire("s2", "shard-0")))
      // releasing in g2 frees only g2's
      yield* two.release(leases[2]!)
      assert.isTrue(Option.isNone(yield* other.acquire("s1", "shard-0")))
      assert.strictEqual(Option.getOrThrow(yield* one.get("s1", "shard-0")).owner, "same-worker")
      assert.strictEqual(Option.getOrThrow(yield* two.get("s1", "shard-0")).owner, undefined)

      const checkpoints = yield* Effect.forEach(
        [[one, "s1"], [one, "s2"], [two, "s1"], [two, "s2"]] as const,
        ([worker, stream]) =>
          Effect.map(worker.list(stream), (states) => states.map((s) => s.checkpoint?.sequenceNumber))
      )
      assert.deepStrictEqual(checkpoints, [[seq(0)], [seq(1)], [seq(2)], [seq(3)]])

      yield* one.leave("s1")
      assert.deepStrictEqual(yield* one.workers("s1"), [])
      assert.deepStrictEqual((yield* one.workers("s2")).map((w) => w.workerId), ["same-worker"])
      assert.deepStrictEqual((yield* two.workers("s1")).map((w) => w.workerId), ["same-worker"])
    }))

  it.scopedLive("a missing table without createTable is a CheckpointerError naming the table", () =>
    Effect.gen(function*() {
      const table = fresh("missing")
      const error = yield* Effect.flip(DynamoDbCheckpointer.make({ ...server, group: "g", table }))
      assert.strictEqual(error._tag, "CheckpointerError")
      assert.include(error.message, `"${table}"`)
      assert.include(error.message, "createTable")
      assert.strictEqual((error.cause as Error).name, "ResourceNotFoundException")

      // the same through the layer
      const viaLayer = yield* Effect.flip(
        Effect.provide(Checkpointer.Checkpointer, DynamoDbCheckpointer.layer({ ...server, group: "g", table }))
      )
      assert.strictEqual(viaLayer._tag, "CheckpointerError")
      assert.include(viaLayer.message, `"${table}"`)
    }))

  it.scopedLive("a table deleted under a running worker: each operation fails with a CheckpointerError naming it", () =>
    Effect.gen(function*() {
      const client = yield* testClient
      const table = fresh("deleted")
      const a = yield* DynamoDbCheckpointer.make({ client, group: "g", table, workerId: "a", createTable: true })
      const [lease] = acquired(yield* a.acquire("s", "shard-0"))
      yield* Effect.promise(() => client.send(new DeleteTableCommand({ TableName: table })))
      // dynalite answers DELETING first: describe until the table is gone
      yield* Effect.tryPromise(() => client.send(new DescribeTableCommand({ TableName: table }))).pipe(
        Effect.repeat(Schedule.spaced("20 millis")),
        Effect.either,
        Effect.timeout("5 seconds")
      )
      const failures = yield* Effect.all([
        Effect.flip(a.checkpoint(lease, { sequenceNumber: seq(1) })),
        Effect.flip(a.acquire("s", "shard-1")),
        Effect.flip(a.list("s")),
        Effect.flip(a.heartbeat("s"))
      ])
      for (const error of failures) {
        assert.strictEqual(error._tag, "CheckpointerError")
        if (error._tag === "CheckpointerError") {
          assert.include(error.message, `DynamoDB table "${table}" not found`)
          assert.include(error.message, "createTable")
        }
      }
      const checkpointError = failures[0]!
      if (checkpointError._tag === "CheckpointerError") {
        assert.strictEqual(checkpointError.operation, "checkpoint")
        assert.strictEqual(checkpointError.stream, "s")
        assert.strictEqual(checkpointError.shardId, "shard-0")
      }
    }))

  it.scopedLive("layerConfig(DynamoDbCheckpointer.config) reads the table, group and endpoint from the environment", () =>
    Effect.gen(function*() {
      const table = fresh("config")
      const group = fresh("g")
      const provider = ConfigProvider.fromMap(
        new Map([
          ["KINESIS_CHECKPOINT_GROUP", group],
          ["KINESIS_CHECKPOINT_TABLE", table],
          ["KINESIS_CHECKPOINT_CREATE_TABLE", "true"],
          ["KINESIS_CHECKPOINT_WORKER_ID", "from-config"],
          ["KINESIS_CHECKPOINT_SESSION_TIMEOUT", "6 seconds"],
          ["AWS_REGION", region],
          ["DYNAMODB_ENDPOINT", endpoint],
          ["AWS_ACCESS_KEY_ID", "local"],
          ["AWS_SECRET_ACCESS_KEY", "local"]
        ])
      )
      const lease = yield* Effect.gen(function*() {
        const c = yield* Checkpointer.Checkpointer
        assert.strictEqual(c.workerId, "from-config")
        assert.isTrue(Duration.equals(c.sessionTimeout, Duration.seconds(6)))
        assert.isTrue(Duration.equals(c.heartbeatInterval, Duration.seconds(2)))
        const [lease] = acquired(yield* c.acquire("s", "shard-0"))
        return lease
      }).pipe(
        Effect.provide(DynamoDbCheckpointer.layerConfig(DynamoDbCheckpointer.config)),
        Effect.withConfigProvider(provider)
      )

      // the same table and group in code
      const direct = yield* DynamoDbCheckpointer.make({ ...server, group, table })
      assert.strictEqual(Option.getOrThrow(yield* direct.get("s", "shard-0")).owner, lease.owner)

      // the group and the table are required
      const missing = yield* Effect.flip(
        Effect.provide(Checkpointer.Checkpointer, DynamoDbCheckpointer.layerConfig(DynamoDbCheckpointer.config)).pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["KINESIS_CHECKPOINT_TABLE", table]])))
        )
      )
      assert.isTrue(ConfigError.isConfigError(missing))
      assert.include(String(missing), "KINESIS_CHECKPOINT_GROUP")
    }))

  it.scopedLive("layerConfig with one Config per option: the group fixed in code, the rest read", () =>
    Effect.gen(function*() {
      const table = fresh("fields")
      const group = fresh("g")
      const layer = DynamoDbCheckpointer.layerConfig({
        group: Config.succeed(group),
        table: Config.string("TABLE"),
        createTable: Config.succeed(true),
        workerId: Config.string("WORKER"),
        endpoint: Config.string("ENDPOINT"),
        region: Config.succeed(region),
        credentials: Config.succeed(credentials)
      })
      const provider = ConfigProvider.fromMap(
        new Map([["TABLE", table], ["WORKER", "w-fields"], ["ENDPOINT", endpoint]])
      )
      const lease = yield* Effect.gen(function*() {
        const c = yield* Checkpointer.Checkpointer
        assert.strictEqual(c.workerId, "w-fields")
        const [lease] = acquired(yield* c.acquire("s", "shard-0"))
        return lease
      }).pipe(Effect.provide(layer), Effect.withConfigProvider(provider))
      const direct = yield* DynamoDbCheckpointer.make({ ...server, group, table })
      assert.strictEqual(Option.getOrThrow(yield* direct.get("s", "shard-0")).owner, lease.owner)

      // a missing field fails the layer with a ConfigError naming it
      const missing = yield* Effect.flip(
        Effect.provide(Checkpointer.Checkpointer, layer).pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["TABLE", table], ["WORKER", "w"]])))
        )
      )
      assert.isTrue(ConfigError.isConfigError(missing))
      assert.include(String(missing), "ENDPOINT")
    }))

  it.scopedLive("a client passed in is not destroyed; a client built from options lives as long as the scope", () =>
    Effect.gen(function*() {
      const client = yield* testClient
      const group = fresh("g")
      yield* Effect.gen(function*() {
        const c = yield* Checkpointer.Checkpointer
        yield* c.heartbeat("s")
      }).pipe(Effect.provide(DynamoDbCheckpointer.layer({ client, group, table: TABLE, createTable: true })))
      // the layer is released: our client still works
      const out = yield* Effect.promise(() => client.send(new DescribeTableCommand({ TableName: TABLE })))
      assert.strictEqual(out.Table?.TableStatus, "ACTIVE")

      // a built client serves until its scope closes
      const scope = yield* Scope.make()
      const built = yield* DynamoDbCheckpointer.make({ ...server, group, table: TABLE }).pipe(Scope.extend(scope))
      yield* built.heartbeat("s")
      yield* Scope.close(scope, Exit.void)
    }))

  it.scopedLive("list and workers read every page of the Query", () =>
    Effect.gen(function*() {
      const group = fresh("pages")
      const workers = yield* Effect.forEach(
        Array.from({ length: 5 }, (_, i) => `w-${i}`),
        (workerId) =>
          DynamoDbCheckpointer.make({
            ...server,
            group,
            table: TABLE,
            workerId,
            sessionTimeout: "10 seconds",
            pageSize: 2
          })
      )
      for (const [i, w] of workers.entries()) {
        const [lease] = acquired(yield* w.acquire("s", `shard-${i}`))
        yield* w.checkpoint(lease, { sequenceNumber: seq(i) })
        yield* w.heartbeat("s")
      }
      const listed = yield* workers[0]!.list("s")
      assert.deepStrictEqual(listed.map((s) => s.shardId).sort(), [
        "shard-0",
        "shard-1",
        "shard-2",
        "shard-3",
        "shard-4"
      ])
      assert.deepStrictEqual(listed.map((s) => s.owner).sort(), ["w-0", "w-1", "w-2", "w-3", "w-4"])
      const live = yield* workers[0]!.workers("s")
      assert.deepStrictEqual(live.map((w) => w.workerId).sort(), ["w-0", "w-1", "w-2", "w-3", "w-4"])
      // with a filter that drops most items, the pages still go on
      yield* Effect.forEach(workers.slice(1), (w) => w.leave("s"))
      assert.deepStrictEqual((yield* workers[4]!.workers("s")).map((w) => w.workerId), ["w-0"])
    }))

  it.scopedLive("re-acquiring its own lease keeps a hand-off request to another worker (as makeMemory does)", () =>
    Effect.gen(function*() {
      const group = fresh("handoff")
      const memory = Checkpointer.makeMemoryStore()
      const pairs = yield* Effect.forEach(["a", "b"], (workerId) =>
        Effect.all([
          DynamoDbCheckpointer.make({ ...server, group, table: TABLE, workerId, sessionTimeout: "10 seconds" }),
          Checkpointer.makeMemory({ store: memory, workerId, sessionTimeout: "10 seconds" })
        ]))
      for (const [a, b] of [[pairs[0]![0], pairs[1]![0]], [pairs[0]![1], pairs[1]![1]]] as const) {
        const [first] = acquired(yield* a.acquire("s", "shard-0"))
        yield* b.requestHandOff("s", "shard-0", "b")
        const [second, state] = acquired(yield* a.acquire("s", "shard-0"))
        assert.strictEqual(state.handOffTo, "b", "the owner's re-acquire keeps the request")
        assert.isAbove(second.leaseCounter, first.leaseCounter)
        // a request to the owner itself is ignored
        yield* a.requestHandOff("s", "shard-0", "a")
        assert.strictEqual(Option.getOrThrow(yield* b.get("s", "shard-0")).handOffTo, "b")
        // and one for a shard nobody holds is dropped
        yield* b.requestHandOff("s", "shard-9", "b")
        assert.isTrue(Option.isNone(yield* b.get("s", "shard-9")))
      }
    }))

  it.scopedLive("throttling is a CheckpointerError that says so (the SDK error is the cause)", () =>
    Effect.gen(function*() {
      const client = yield* testClient
      const group = fresh("throttled")
      const a = yield* DynamoDbCheckpointer.make({ client, group, table: TABLE, workerId: "a" })
      const faults = [
        new ProvisionedThroughputExceededException({ message: "Rate exceeded", $metadata: {} }),
        new ThrottlingException({ message: "Throughput exceeds the current capacity", $metadata: {} })
      ]
      for (const fault of faults) {
        // fault injection in the client's middleware: the request never leaves
        const name = `inject-${fault.name}`
        client.middlewareStack.add(() => () => Promise.reject(fault), { step: "initialize", name })
        const error = yield* Effect.flip(a.acquire("s", "shard-0"))
        client.middlewareStack.remove(name)
        assert.strictEqual(error._tag, "CheckpointerError")
        assert.strictEqual(error.operation, "acquire")
        assert.strictEqual(error.stream, "s")
        assert.strictEqual(error.shardId, "shard-0")
        assert.include(error.message, "throttled")
        assert.include(error.message, fault.name)
        assert.strictEqual(error.cause, fault)
      }
      assert.isTrue(Option.isSome(yield* a.acquire("s", "shard-0")), "works again once the faults are gone")
    }))

  it.scoped("time is the worker's Clock: expiresAt and expiry follow the TestClock", () =>
    Effect.gen(function*() {
      const group = fresh("clock")
      yield* TestClock.setTime(1_000_000)
      const worker = (workerId: string) =>
        DynamoDbCheckpointer.make({ ...server, group, table: TABLE, workerId, sessionTimeout: "10 seconds" })
      const a = yield* worker("a")
      const b = yield* worker("b")
      const [lease, state] = acquired(yield* a.acquire("s", "shard-0"))
      assert.strictEqual(state.expiresAt, 1_010_000)

      yield* TestClock.adjust("9999 millis")
      assert.isTrue(Option.isNone(yield* b.acquire("s", "shard-0")))
      yield* a.heartbeat("s")
      assert.deepStrictEqual(yield* b.workers("s"), [{ workerId: "a", lastSeen: 1_009_999, expiresAt: 1_019_999 }])

      yield* TestClock.adjust("1 millis")
      const [taken, takenState] = acquired(yield* b.acquire("s", "shard-0"))
      assert.strictEqual(taken.leaseCounter, lease.leaseCounter + 1)
      assert.strictEqual(takenState.expiresAt, 1_020_000)
      const lost = yield* Effect.flip(a.renew(lease))
      assert.deepStrictEqual(
        lost,
        new Checkpointer.LeaseLost({
          stream: "s",
          shardId: "shard-0",
          owner: "a",
          leaseCounter: lease.leaseCounter,
          currentOwner: "b",
          currentLeaseCounter: taken.leaseCounter
        })
      )
      yield* TestClock.adjust("10 seconds")
      assert.deepStrictEqual(yield* b.workers("s"), [])
    }))

  it.effect("default workerId is hostname-pid-random; an empty group is refused", () =>
    Effect.gen(function*() {
      const a = yield* Effect.scoped(DynamoDbCheckpointer.make({ ...server, group: fresh("g"), table: TABLE }))
      assert.match(a.workerId, new RegExp(`-${process.pid}-[a-z0-9]+$`))
      assert.isTrue(Duration.equals(a.sessionTimeout, Duration.seconds(30)))
      const error = yield* Effect.flip(Effect.scoped(DynamoDbCheckpointer.make({ ...server, group: "", table: TABLE })))
      assert.include(error.message, "group")
    }))
})
