/** @internal */
import * as Predicate from "effect/Predicate"
import {
  AccessDenied,
  ExpiredIterator,
  ExpiredNextToken,
  InvalidArgument,
  KinesisUnknownError,
  KmsError,
  type KmsErrorKind,
  LimitExceeded,
  ProvisionedThroughputExceeded,
  ResourceInUse,
  ResourceNotFound,
  type ServiceError,
  type ServiceErrorFields
} from "../KinesisError.js"

type Fields = ServiceErrorFields

/** The shard a throttling message names: AWS says "Rate exceeded for shard shardId-… in stream …". */
const shardIn = (message: string): string | undefined => /\bfor shard (shardId-[0-9]+)/.exec(message)?.[1]

/**
 * The one mapping table: AWS exception name → tagged error.
 * Source: Kinesis API reference, "Errors" of each action, and @aws-sdk/client-kinesis models/errors.
 */
const table: Record<string, (fields: Fields, awsName: string) => ServiceError> = {
  ProvisionedThroughputExceededException: (f) =>
    new ProvisionedThroughputExceeded({ ...f, shardId: shardIn(f.message) }),
  ExpiredIteratorException: (f) => new ExpiredIterator(f),
  ExpiredNextTokenException: (f) => new ExpiredNextToken(f),
  ResourceNotFoundException: (f) => new ResourceNotFound(f),
  ResourceInUseException: (f) => new ResourceInUse(f),
  InvalidArgumentException: (f, awsName) => new InvalidArgument({ ...f, awsName }),
  ValidationException: (f, awsName) => new InvalidArgument({ ...f, awsName }),
  AccessDeniedException: (f) => new AccessDenied(f),
  LimitExceededException: (f) => new LimitExceeded(f),
  KMSAccessDeniedException: (f, kind) => new KmsError({ ...f, kind: kind as KmsErrorKind }),
  KMSDisabledException: (f, kind) => new KmsError({ ...f, kind: kind as KmsErrorKind }),
  KMSInvalidStateException: (f, kind) => new KmsError({ ...f, kind: kind as KmsErrorKind }),
  KMSNotFoundException: (f, kind) => new KmsError({ ...f, kind: kind as KmsErrorKind }),
  KMSOptInRequired: (f, kind) => new KmsError({ ...f, kind: kind as KmsErrorKind }),
  KMSThrottlingException: (f, kind) => new KmsError({ ...f, kind: kind as KmsErrorKind })
}

/**
 * The tags PutRecords and PutRecord declare (`Kinesis.PutRecordsError`): the port and the test engine map
 * a failure to one of them, or to `KinesisUnknownError`.
 *
 * @internal
 */
export const PUT_RECORDS_ERRORS = [
  "ProvisionedThroughputExceeded",
  "LimitExceeded",
  "ResourceNotFound",
  "InvalidArgument",
  "AccessDenied",
  "KmsError",
  "KinesisUnknownError"
] as const satisfies ReadonlyArray<ServiceError["_tag"]>

/** Names of failures that are worth a retry even though we have no tag for them. */
const RETRYABLE_NAMES = new Set([
  "InternalFailureException",
  "InternalFailure",
  "ServiceUnavailable",
  "ServiceUnavailableException",
  "TimeoutError",
  "RequestTimeout",
  "RequestTimeoutException",
  "ThrottlingException"
])
const RETRYABLE_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ENOTFOUND",
  "EHOSTUNREACH"
])

const stringField = (u: unknown, key: string): string | undefined =>
  Predicate.hasProperty(u, key) && typeof u[key] === "string" ? u[key] : undefined

const metadata = (u: unknown): { readonly requestId?: string; readonly httpStatusCode?: number } =>
  Predicate.hasProperty(u, "$metadata") && Predicate.isRecord(u.$metadata) ? u.$metadata : {}

/**
 * Maps any failure of an SDK call to a tagged error. A tag the operation does not declare (a server
 * answering outside the API reference) becomes `KinesisUnknownError`, so the declared unions hold.
 *
 * @internal
 */
export const fromSdkError = (
  error: unknown,
  operation: string,
  stream: string | undefined,
  allowed: ReadonlyArray<ServiceError["_tag"]>
): ServiceError => {
  const name = stringField(error, "name") ?? stringField(error, "code") ?? "UnknownError"
  const message = stringField(error, "message") ?? String(error)
  const meta = metadata(error)
  const fields: Fields = { operation, stream, message, requestId: meta.requestId, cause: error }
  const make = table[name]
  if (make !== undefined) {
    const mapped = make(fields, name)
    if (allowed.includes(mapped._tag)) return mapped
  }
  const code = stringField(error, "code")
  const retryable = RETRYABLE_NAMES.has(name) ||
    (code !== undefined && RETRYABLE_CODES.has(code)) ||
    (meta.httpStatusCode !== undefined && meta.httpStatusCode >= 500) ||
    Predicate.hasProperty(error, "$retryable") && Predicate.isRecord(error.$retryable)
  return new KinesisUnknownError({ ...fields, name, retryable })
}
