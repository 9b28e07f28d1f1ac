/**
 * The Kinesis port: the narrow service through which the library talks to Kinesis Data Streams.
 *
 * @since 0.1.0
 */
export * as Kinesis from "./Kinesis.js"

/**
 * Typed errors of effect-kinesis.
 *
 * @since 0.1.0
 */
export * as KinesisError from "./KinesisError.js"

/**
 * A Kinesis stream, named by name or by ARN (`arn:aws:kinesis:REGION:ACCOUNT:stream/NAME`).
 *
 * @since 0.1.0
 */
export * as StreamAddress from "./StreamAddress.js"
