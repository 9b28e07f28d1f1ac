/**
 * Positions in a shard: how checkpoints compare (a sequence number, and inside an aggregate a
 * sub-sequence number) and where an iterator resumes after one.
 *
 * Owns no state (pure functions). Called by the checkpointing (is a position past the one written?),
 * the shard reader (where to ask for an iterator) and `consumer.ts` (re-exported for tests).
 *
 * @internal
 */
import type * as Checkpointer from "../../Checkpointer.js"
import type * as Kinesis from "../../Kinesis.js"

/** Compares decimal sequence numbers (no leading zeros). */
export const compareSequence = (a: string, b: string): number =>
  a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0

/** Compares checkpoints; a missing sub-sequence means "the whole Kinesis record". */
export const comparePosition = (a: Checkpointer.Checkpoint, b: Checkpointer.Checkpoint): number => {
  const bySequence = compareSequence(a.sequenceNumber, b.sequenceNumber)
  if (bySequence !== 0) return bySequence
  const sa = a.subSequenceNumber ?? Infinity
  const sb = b.subSequenceNumber ?? Infinity
  return sa === sb ? 0 : sa < sb ? -1 : 1
}

/** `a` is a position and lies past `b` (or `b` is none). @internal */
export const isAfter = (a: Checkpointer.Checkpoint | undefined, b: Checkpointer.Checkpoint | undefined) =>
  a !== undefined && (b === undefined || comparePosition(a, b) > 0)

/**
 * Where an iterator resumes after a checkpoint: after its record, or at it when the checkpoint is inside
 * an aggregate (its sub-records up to the checkpoint are then skipped as they are decoded). @internal
 */
export const resumeAfter = (from: Checkpointer.Checkpoint): Kinesis.StartingPosition =>
  from.subSequenceNumber === undefined
    ? { type: "AFTER_SEQUENCE_NUMBER", sequenceNumber: from.sequenceNumber }
    : { type: "AT_SEQUENCE_NUMBER", sequenceNumber: from.sequenceNumber }

/**
 * ms subtracted from the LATEST instant when a reader that never got a record must start again
 * (AT_TIMESTAMP of when LATEST was asked for, less this margin for clock skew: nothing lost). @internal
 */
export const LATEST_SKEW_MARGIN = 1_000
