/**
 * A Kinesis stream, named by name or by ARN (`arn:aws:kinesis:REGION:ACCOUNT:stream/NAME`).
 *
 * An address is parsed once, where the user gives it; the port sends a name as `StreamName` and an
 * ARN as `StreamARN` (which lets a client address a stream of another account or region).
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import { InvalidStreamAddress } from "./KinesisError.js"

/**
 * @since 0.1.0
 * @category models
 */
export type StreamAddress = StreamName | StreamArn

/**
 * @since 0.1.0
 * @category models
 */
export interface StreamName {
  readonly _tag: "StreamName"
  readonly name: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface StreamArn {
  readonly _tag: "StreamArn"
  readonly arn: string
  /** `aws`, `aws-cn`, `aws-us-gov`, ... */
  readonly partition: string
  readonly region: string
  readonly account: string
  readonly name: string
}

/**
 * Where a stream may be given by the user: an address, a name or an ARN.
 *
 * @since 0.1.0
 * @category models
 */
export type StreamAddressInput = StreamAddress | string

// Stream names: 1-128 characters of [a-zA-Z0-9_.-] (Kinesis API reference, CreateStream).
const NAME = /^[a-zA-Z0-9_.-]{1,128}$/
const ARN = /^arn:(aws[a-zA-Z-]*):kinesis:([a-z0-9-]+):(\d{12}):stream\/(.+)$/

const makeName = Data.tagged<StreamName>("StreamName")
const makeArn = Data.tagged<StreamArn>("StreamArn")

const checkName = (input: string, name: string): Either.Either<string, InvalidStreamAddress> => {
  if (name.length === 0) return Either.left(new InvalidStreamAddress({ input, reason: "the stream name is empty" }))
  if (name.length > 128) {
    return Either.left(new InvalidStreamAddress({ input, reason: "a stream name has at most 128 characters" }))
  }
  if (!NAME.test(name)) {
    return Either.left(
      new InvalidStreamAddress({ input, reason: "a stream name may only contain a-z, A-Z, 0-9, '_', '-' and '.'" })
    )
  }
  return Either.right(name)
}

/**
 * Parses a stream name.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromName = (name: string): Either.Either<StreamAddress, InvalidStreamAddress> =>
  Either.map(checkName(name, name), (name) => makeName({ name }))

/**
 * Parses a stream ARN, `arn:PARTITION:kinesis:REGION:ACCOUNT:stream/NAME`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromArn = (arn: string): Either.Either<StreamAddress, InvalidStreamAddress> => {
  const match = ARN.exec(arn)
  if (match === null) {
    return Either.left(
      new InvalidStreamAddress({
        input: arn,
        reason: "expected arn:PARTITION:kinesis:REGION:ACCOUNT_ID:stream/NAME"
      })
    )
  }
  const [, partition, region, account, name] = match as unknown as [string, string, string, string, string]
  return Either.map(checkName(arn, name), (name) => makeArn({ arn, partition, region, account, name }))
}

/**
 * Parses a name or an ARN (anything starting with `arn:` is parsed as an ARN). An address is
 * returned as it is.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (input: StreamAddressInput): Either.Either<StreamAddress, InvalidStreamAddress> =>
  typeof input !== "string"
    ? isStreamAddress(input) ? Either.right(input) : Either.left(
      new InvalidStreamAddress({
        input: String(input),
        reason: `expected a stream name, an ARN or a StreamAddress, got ${
          input === null ? "null" : `a value of type ${typeof input}`
        }`
      })
    )
    : input.startsWith("arn:")
    ? fromArn(input)
    : fromName(input)

/**
 * A StreamAddress value (a JavaScript caller may pass anything).
 *
 * @since 0.2.0
 * @category refinements
 */
export const isStreamAddress = (u: unknown): u is StreamAddress =>
  typeof u === "object" && u !== null && "_tag" in u && "name" in u && typeof u.name === "string" &&
  (u._tag === "StreamName" || (u._tag === "StreamArn" && "arn" in u && typeof u.arn === "string"))

/**
 * Like `make`, but throws `InvalidStreamAddress` (for constants known to be valid).
 *
 * @since 0.1.0
 * @category constructors
 */
export const unsafeMake = (input: StreamAddressInput): StreamAddress =>
  Either.getOrThrowWith(make(input), (error) => error)

/**
 * The stream's name, whichever way it was addressed.
 *
 * @since 0.1.0
 * @category getters
 */
export const name = (address: StreamAddress): string => address.name

/**
 * The address as the user wrote it: the name, or the full ARN.
 *
 * @since 0.1.0
 * @category getters
 */
export const format = (address: StreamAddress): string => address._tag === "StreamArn" ? address.arn : address.name

/**
 * The request fields that address the stream in an SDK call: `{ StreamName }` or `{ StreamARN }`.
 *
 * @since 0.1.0
 * @category conversions
 */
export const toRequest = (
  address: StreamAddress
): { readonly StreamName: string } | { readonly StreamARN: string } =>
  address._tag === "StreamArn" ? { StreamARN: address.arn } : { StreamName: address.name }
