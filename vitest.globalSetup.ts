/**
 * Starts the real local servers the integration tests talk to, on free loopback ports, and stops
 * them at teardown: kinesalite and dynalite in this process, kinesis-local and redis-server as child
 * processes. Tests read the endpoints with `inject(...)` (see packages/core/test/utils/servers.ts).
 */
import { LocalDynamoDb, LocalKinesis, LocalRedis } from "@effect-kinesis/local"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type { TestProject } from "vitest/node"

export default async function setup(project: TestProject) {
  const scope = Effect.runSync(Scope.make())
  const servers = await Effect.runPromise(
    Effect.all({
      kinesalite: LocalKinesis.kinesalite(),
      dynalite: LocalDynamoDb.dynalite(),
      redis: LocalRedis.redisServer(),
      kinesisLocal: LocalKinesis.kinesisLocal()
    }, { concurrency: "unbounded" }).pipe(Scope.extend(scope))
  ).catch(async (error) => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    throw error
  })
  project.provide("kinesalite", { endpoint: servers.kinesalite.endpoint, region: servers.kinesalite.region })
  project.provide("kinesisLocal", { endpoint: servers.kinesisLocal.endpoint, region: servers.kinesisLocal.region })
  project.provide("dynalite", { endpoint: servers.dynalite.endpoint, region: servers.dynalite.region })
  project.provide("redis", servers.redis)
  return async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}
