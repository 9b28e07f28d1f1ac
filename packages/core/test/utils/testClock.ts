import * as KinesisTest from "@effect-kinesis/core/KinesisTest"
import { Array as Arr, Duration, Effect, TestClock } from "effect"

/** Steps the TestClock `total` forward in `step`s (so every fiber runs between steps). */
export const advance = (total: Duration.DurationInput, step: Duration.DurationInput = "500 millis") =>
  Effect.suspend(() => {
    const n = Math.ceil(Duration.toMillis(total) / Duration.toMillis(step))
    return Effect.forEach(Arr.range(1, n), () => TestClock.adjust(step), { discard: true })
  })

/** The ids of the stream's open shards on the KinesisTest engine. */
export const openShardIds = (stream: string) =>
  Effect.map(
    KinesisTest.shards(stream),
    (shards) => shards.filter((s) => s.status === "OPEN").map((s) => s.shardId)
  )
