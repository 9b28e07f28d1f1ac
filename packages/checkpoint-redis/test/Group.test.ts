/** Worker processes sharing a kinesalite stream through Redis (see the core GroupSuite). */
import * as GroupSuite from "@effect-kinesis/core/testing/GroupSuite"
import { inject } from "vitest"

GroupSuite.run("consumer group over Redis", {
  workerScript: new URL("./fixtures/worker.ts", import.meta.url).pathname,
  kinesalite: inject("kinesalite"),
  env: ({ group }) => ({ GROUP: group, REDIS_URL: inject("redis").url })
})

GroupSuite.runProcess("Consumer.process over Redis", {
  workerScript: new URL("./fixtures/worker.ts", import.meta.url).pathname,
  kinesalite: inject("kinesalite"),
  env: ({ group }) => ({ GROUP: group, REDIS_URL: inject("redis").url })
})
