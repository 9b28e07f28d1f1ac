/**
 * @internal
 */

/**
 * Thrown by an aggregator's `unpack` when a Kinesis record's framing is malformed; becomes the cause
 * of a `DecodeError`. `subSequenceNumber` names the user record at which reading stopped.
 */
export class MalformedRecord extends Error {
  constructor(message: string, readonly subSequenceNumber?: number | undefined) {
    super(message)
    this.name = "MalformedRecord"
  }
}
