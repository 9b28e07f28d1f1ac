/**
 * The local servers start on loopback, answer their real protocol, and are gone when the scope closes.
 */
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb"
import { KinesisClient, ListStreamsCommand } from "@aws-sdk/client-kinesis"
import { LocalDynamoDb, LocalKinesis, LocalRedis } from "@effect-kinesis/local"
import { assert, describe, it } from "@effect/vitest"
import { NodeHttpHandler } from "@smithy/node-http-handler"
import { Effect, Exit, Scope } from "effect"
import { Redis } from "ioredis"
import * as Net from "node:net"

const isListening = (port: number) =>
  Effect.async<boolean>((resume) => {
    const socket = Net.connect({ port, host: "127.0.0.1" })
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed(true))
    })
    socket.once("error", () => resume(Effect.succeed(false)))
  })

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe("local servers", () => {
  it.live("kinesalite answers Kinesis on 127.0.0.1 and stops with its scope", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const local = yield* Scope.extend(LocalKinesis.kinesalite(), scope)
      assert.match(local.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/)
      const client = new KinesisClient({
        endpoint: local.endpoint,
        region: local.region,
        credentials: local.credentials,
        requestHandler: new NodeHttpHandler()
      })
      const out = yield* Effect.promise(() => client.send(new ListStreamsCommand({})))
      assert.deepStrictEqual(out.StreamNames, [])
      client.destroy()
      yield* Scope.close(scope, Exit.void)
      assert.isFalse(yield* isListening(local.port))
    }))

  it.live("dynalite answers DynamoDB and stops with its scope", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const local = yield* Scope.extend(LocalDynamoDb.dynalite(), scope)
      const client = new DynamoDBClient({
        endpoint: local.endpoint,
        region: local.region,
        credentials: local.credentials
      })
      const out = yield* Effect.promise(() => client.send(new ListTablesCommand({})))
      assert.deepStrictEqual(out.TableNames, [])
      client.destroy()
      yield* Scope.close(scope, Exit.void)
      assert.isFalse(yield* isListening(local.port))
    }))

  it.live("redis-server runs as a private child process and is killed with its scope", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const server = yield* Scope.extend(LocalRedis.redisServer(), scope)
      assert.notStrictEqual(server.port, 6379)
      const redis = new Redis(server.port, server.host, { lazyConnect: true, maxRetriesPerRequest: 0 })
      yield* Effect.promise(() => redis.connect())
      assert.strictEqual(yield* Effect.promise(() => redis.ping()), "PONG")
      const info = yield* Effect.promise(() => redis.info("server"))
      const pid = Number(/process_id:(\d+)/.exec(info)?.[1])
      redis.disconnect()
      assert.isTrue(isAlive(pid))
      yield* Scope.close(scope, Exit.void)
      assert.isFalse(isAlive(pid))
      assert.isFalse(yield* isListening(server.port))
    }))

  it.live("a missing redis-server binary is a LocalServerError naming the apt package", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.scoped(LocalRedis.redisServer({ binary: "/nonexistent/redis-server" })))
      assert.strictEqual(error._tag, "LocalServerError")
      assert.include(error.message, "apt-get install -y redis-server")
    }))

  it.live(
    "kinesis-local runs as a child process, answers Kinesis, and is stopped with its scope",
    () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const local = yield* Scope.extend(LocalKinesis.kinesisLocal(), scope)
        const client = new KinesisClient({
          endpoint: local.endpoint,
          region: local.region,
          credentials: local.credentials,
          requestHandler: new NodeHttpHandler()
        })
        const out = yield* Effect.promise(() => client.send(new ListStreamsCommand({})))
        assert.deepStrictEqual(out.StreamNames, [])
        client.destroy()
        yield* Scope.close(scope, Exit.void)
        assert.isFalse(yield* isListening(local.port))
      }),
    60_000
  )
})
