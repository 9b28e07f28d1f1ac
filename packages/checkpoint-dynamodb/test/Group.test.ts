/** Worker processes sharing a kinesalite stream through DynamoDB (dynalite; see the core GroupSuite). */
import * as GroupSuite from "@effect-kinesis/core/testing/GroupSuite"
import { inject } from "vitest"

GroupSuite.run("consumer group over DynamoDB", {
  workerScript: new URL("./fixtures/worker.ts", import.meta.url).pathname,
  kinesalite: inject("kinesalite"),
  env: ({ group }) => ({ GROUP: group, TABLE: "group-test", DYNAMODB_ENDPOINT: inject("dynalite").endpoint })
})
