/**
 * KinesisTest against the port's conformance suite (the same cases kinesalite and kinesis-local run in
 * Kinesis.test.ts), on the TestClock.
 */
import { KinesisTest } from "@effect-kinesis/core"
import { describe } from "@effect/vitest"
import { conformance } from "./KinesisConformance.js"

describe("Kinesis port", () => {
  // The cases read one shard several times within milliseconds, which AWS would throttle (5 GetRecords
  // per second per shard) and so would KinesisTest with its default limits: the suite checks the API,
  // KinesisTest.test.ts checks the limits.
  conformance("KinesisTest", KinesisTest.layer({ limits: false }), {
    core: true,
    clock: "test",
    arnAddressing: true,
    listShardsPaging: true,
    childShards: true,
    updateShardCount: true,
    onDemand: true,
    millisBehindLatest: true,
    awsHashRanges: true,
    rejectsOversizedPutRecords: true,
    malformedIteratorIsInvalidArgument: true,
    // 20 MiB through AWS's 1 MiB/s write limit would be a test of the limit, not of the data
    largeRecords: false,
    perRecordFailure: {
      record: { data: new TextEncoder().encode("fails"), partitionKey: "k" },
      arrange: KinesisTest.failRecords({ select: [1], errorCode: "InternalFailure" }),
      errorCode: "InternalFailure"
    }
  })
})
