/**
 * The user record the downstream gets (`ConsumerRecord`): one object per record, built as its batch is
 * decoded, whose `checkpoint` commits its position through the checkpointing.
 *
 * Owns no state beyond the record's own fields (`closesRecord` is set by the decoding once the Kinesis
 * record's last user record is known). Made by the decode policy (`decode.ts`), read by the output.
 *
 * @internal
 */
import type * as Effect from "effect/Effect"
import type * as Checkpointer from "../../Checkpointer.js"
import type * as Kinesis from "../../Kinesis.js"
import type { ConsumerRecord } from "./shapes.js"

/** Commits a position of one shard (the checkpointing's `commit` for that shard). */
export type Commit = (position: Checkpointer.Checkpoint) => Effect.Effect<
  void,
  Checkpointer.LeaseLost | Checkpointer.CheckpointerError
>

/**
 * A user record, built as it is decoded (one object per record: the Kinesis record's own fields are
 * read through getters, not copied). `JSON.stringify` shows the record's fields; an object spread
 * does not (some are getters).
 */
export class RecordImpl<A> implements ConsumerRecord<A> {
  /** The last user record of its Kinesis record: a checkpoint here covers the whole Kinesis record. */
  closesRecord = false
  constructor(
    readonly value: A,
    private readonly record: Kinesis.KinesisRecord,
    readonly shardId: string,
    readonly subSequenceNumber: number | undefined,
    readonly partitionKey: string,
    readonly explicitHashKey: string | undefined,
    private readonly commit: Commit
  ) {}
  /** The Kinesis record as read (for a KPL sub-record: the aggregate). */
  get kinesisRecord(): Kinesis.KinesisRecord {
    return this.record
  }
  get sequenceNumber(): string {
    return this.record.sequenceNumber
  }
  get approximateArrivalTimestamp(): Date {
    return this.record.approximateArrivalTimestamp
  }
  /** Position a checkpoint at this record stores. */
  get position(): Checkpointer.Checkpoint {
    return this.closesRecord || this.subSequenceNumber === undefined
      ? { sequenceNumber: this.record.sequenceNumber }
      : { sequenceNumber: this.record.sequenceNumber, subSequenceNumber: this.subSequenceNumber }
  }
  get checkpoint(): Effect.Effect<void, Checkpointer.LeaseLost | Checkpointer.CheckpointerError> {
    return this.commit(this.position)
  }
  toJSON(): unknown {
    return {
      value: this.value,
      shardId: this.shardId,
      sequenceNumber: this.sequenceNumber,
      subSequenceNumber: this.subSequenceNumber,
      partitionKey: this.partitionKey,
      explicitHashKey: this.explicitHashKey,
      approximateArrivalTimestamp: this.approximateArrivalTimestamp
    }
  }
}
