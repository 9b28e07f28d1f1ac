/**
 * Checks of the options a JavaScript caller passes (no compiler stops a `"500"` or a `-1` there): each
 * option's kind, checked once when a producer or consumer is made, so a bad one is an `InvalidOption`
 * naming it rather than a defect or a hang later.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import { InvalidArgument, InvalidOption } from "../KinesisError.js"
import * as StreamAddress from "../StreamAddress.js"

/** What an option must be (undefined is always allowed: the default applies). */
export type Kind =
  | { readonly _tag: "Int"; readonly min: number; readonly max?: number }
  | { readonly _tag: "Number"; readonly min: number; readonly max?: number; readonly exclusiveMin?: boolean }
  | { readonly _tag: "Duration"; readonly positive: boolean }
  | { readonly _tag: "Boolean" }
  | { readonly _tag: "Function" }
  | { readonly _tag: "OneOf"; readonly values: ReadonlyArray<unknown> }
  | { readonly _tag: "Date" }
  | { readonly _tag: "FalseOrObject" }
  | { readonly _tag: "Custom"; readonly is: (u: unknown) => boolean; readonly expected: string }

export const int = (min: number, max?: number): Kind => ({ _tag: "Int", min, ...(max === undefined ? {} : { max }) })
export const number = (min: number, max?: number, exclusiveMin = false): Kind => ({
  _tag: "Number",
  min,
  exclusiveMin,
  ...(max === undefined ? {} : { max })
})
/** A duration of zero or more. */
export const duration: Kind = { _tag: "Duration", positive: false }
/** A duration above zero (an interval something repeats at). */
export const positiveDuration: Kind = { _tag: "Duration", positive: true }
export const boolean: Kind = { _tag: "Boolean" }
export const fn: Kind = { _tag: "Function" }
export const date: Kind = { _tag: "Date" }
export const falseOrObject: Kind = { _tag: "FalseOrObject" }
export const oneOf = (...values: ReadonlyArray<unknown>): Kind => ({ _tag: "OneOf", values })
export const custom = (is: (u: unknown) => boolean, expected: string): Kind => ({ _tag: "Custom", is, expected })

const range = (min: number, max: number | undefined, exclusiveMin = false) =>
  max === undefined ? `${exclusiveMin ? "above" : "at least"} ${min}` : `from ${min} to ${max}`

/** A duration input as Effect reads it, and not negative (Effect would read -1 as zero) nor NaN. */
const isDuration = (value: unknown, positive: boolean): boolean => {
  if (typeof value === "number" && !(value >= 0)) return false
  if (typeof value === "bigint" && value < BigInt(0)) return false
  const decoded = Duration.decodeUnknown(value)
  return Option.isSome(decoded) && (!positive || Duration.greaterThan(decoded.value, Duration.zero))
}

const check = (kind: Kind, value: unknown): string | undefined => {
  switch (kind._tag) {
    case "Int":
      return typeof value === "number" && Number.isInteger(value) && value >= kind.min &&
          (kind.max === undefined || value <= kind.max)
        ? undefined
        : `an integer ${range(kind.min, kind.max)}`
    case "Number":
      return typeof value === "number" && !Number.isNaN(value) &&
          (kind.exclusiveMin === true ? value > kind.min : value >= kind.min) &&
          (kind.max === undefined || value <= kind.max)
        ? undefined
        : `a number ${range(kind.min, kind.max, kind.exclusiveMin)}`
    case "Duration":
      return isDuration(value, kind.positive)
        ? undefined
        : `a duration ${kind.positive ? "above zero" : "of zero or more"} (milliseconds as a number, "5 seconds", ` +
          `or a Duration)`
    case "Boolean":
      return typeof value === "boolean" ? undefined : "true or false"
    case "Function":
      return typeof value === "function" ? undefined : "a function"
    case "Date":
      return value instanceof Date && !Number.isNaN(value.getTime()) ? undefined : "a valid Date"
    case "FalseOrObject":
      return value === false || (typeof value === "object" && value !== null && !Array.isArray(value))
        ? undefined
        : "false or an object"
    case "OneOf":
      return kind.values.includes(value) ? undefined : `one of ${kind.values.map((v) => JSON.stringify(v)).join(", ")}`
    case "Custom":
      return kind.is(value) ? undefined : kind.expected
  }
}

/**
 * The first option of `options` (keys of `spec`, `prefix` before their names) that is not of its kind,
 * as an `InvalidOption`; undefined when all are (or are absent).
 */
export const validate = (
  options: object,
  spec: Readonly<Record<string, Kind>>,
  prefix = ""
): InvalidOption | undefined => {
  const values = options as Readonly<Record<string, unknown>>
  for (const [name, kind] of Object.entries(spec)) {
    const value = values[name]
    if (value === undefined) continue
    const expected = check(kind, value)
    if (expected !== undefined) return new InvalidOption({ option: `${prefix}${name}`, value, expected })
  }
  return undefined
}

/** An options argument that is not an object at all. */
export const notAnObject = (options: unknown, what: string): InvalidOption | undefined =>
  typeof options === "object" && options !== null
    ? undefined
    : new InvalidOption({ option: what, value: options, expected: "an options object" })

/** Shape of a record as a JavaScript caller may pass it. */
interface LooseRecord {
  readonly data?: unknown
  readonly partitionKey?: unknown
  readonly explicitHashKey?: unknown
  readonly sequenceNumberForOrdering?: unknown
}

/**
 * Whether a record is what the types promise (data a Uint8Array, keys strings). Cheap — no allocation —
 * for the body writers' loops, which check each record as they size it; the message comes from
 * `badRecords` only once one is not.
 */
export const isValidRecord = (r: LooseRecord | null | undefined): boolean =>
  r?.data instanceof Uint8Array && typeof r.partitionKey === "string" &&
  (r.explicitHashKey === undefined || typeof r.explicitHashKey === "string")

const invalid = (operation: string, stream: unknown, message: string) =>
  new InvalidArgument({
    operation,
    stream: StreamAddress.isStreamAddress(stream) ? StreamAddress.format(stream) : undefined,
    message,
    awsName: "ValidationException"
  })

const describe = (u: unknown): string =>
  u === null || u === undefined
    ? String(u)
    : Array.isArray(u)
    ? "an array"
    : typeof u === "string"
    ? `string ${JSON.stringify(u.length > 40 ? `${u.slice(0, 40)}…` : u)}`
    : typeof u === "number" || typeof u === "boolean" || typeof u === "bigint"
    ? `${typeof u} ${String(u)}`
    : typeof u === "object"
    ? "an object"
    : `a ${typeof u}`

/** A stream that is not a StreamAddress (a JavaScript caller passing a name: the port takes addresses). */
export const badStream = (operation: string, stream: unknown, optional = false): InvalidArgument | undefined =>
  StreamAddress.isStreamAddress(stream) || (optional && stream === undefined)
    ? undefined
    : invalid(
      operation,
      stream,
      `stream must be a StreamAddress (StreamAddress.make("name") or StreamAddress.fromArn(arn)), got ${
        describe(stream)
      }`
    )

/**
 * The first thing a JavaScript caller got wrong in a PutRecords / PutRecord request (the stream, the
 * records array, data that is not a Uint8Array, a key that is not a string), as the `InvalidArgument`
 * AWS's validation would answer, before anything is sent; undefined when all is well.
 */
export const badRecords = (
  operation: string,
  stream: unknown,
  records: unknown
): InvalidArgument | undefined => {
  const bad = badStream(operation, stream)
  if (bad !== undefined) return bad
  if (!Array.isArray(records)) return invalid(operation, stream, `records must be an array, got ${describe(records)}`)
  for (let i = 0; i < records.length; i++) {
    const r: unknown = records[i]
    const at = operation === "putRecord" ? "" : `record ${i}: `
    if (typeof r !== "object" || r === null) {
      return invalid(operation, stream, `record ${i} is not an object (${describe(r)})`)
    }
    const record = r as LooseRecord
    if (!(record.data instanceof Uint8Array)) {
      return invalid(operation, stream, `${at}data must be a Uint8Array, got ${describe(record.data)}`)
    }
    if (typeof record.partitionKey !== "string") {
      return invalid(operation, stream, `${at}partitionKey must be a string, got ${describe(record.partitionKey)}`)
    }
    if (record.explicitHashKey !== undefined && typeof record.explicitHashKey !== "string") {
      return invalid(
        operation,
        stream,
        `${at}explicitHashKey must be a string, got ${describe(record.explicitHashKey)}`
      )
    }
    if (record.sequenceNumberForOrdering !== undefined && typeof record.sequenceNumberForOrdering !== "string") {
      return invalid(
        operation,
        stream,
        `${at}sequenceNumberForOrdering must be a string, got ${describe(record.sequenceNumberForOrdering)}`
      )
    }
  }
  return undefined
}

/** A GetRecords request a JavaScript caller got wrong (iterator, limit, stream). */
export const badGetRecords = (
  request: { readonly shardIterator?: unknown; readonly limit?: unknown; readonly stream?: unknown }
): InvalidArgument | undefined => {
  if (typeof request !== "object" || request === null) {
    return invalid("getRecords", undefined, `the request must be an object, got ${describe(request)}`)
  }
  if (typeof request.shardIterator !== "string") {
    return invalid(
      "getRecords",
      request.stream,
      `shardIterator must be a string, got ${describe(request.shardIterator)}`
    )
  }
  const limit = request.limit
  if (limit !== undefined && !(typeof limit === "number" && Number.isInteger(limit) && limit >= 1 && limit <= 10_000)) {
    return invalid("getRecords", request.stream, `limit must be an integer from 1 to 10000, got ${describe(limit)}`)
  }
  return badStream("getRecords", request.stream, true)
}
