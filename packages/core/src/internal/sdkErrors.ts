/** @internal */
import * as Predicate from "effect/Predicate"
import {
  AccessDenied,
  ExpiredIterator,
  ExpiredNextToken,
  InvalidArgument,
  isKinesisError,
  KinesisConfigError,
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

/** The IAM action of a port operation: `putRecords` → `kinesis:PutRecords`. */
const actionOf = (operation: string): string => `kinesis:${operation.charAt(0).toUpperCase()}${operation.slice(1)}`

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
  AccessDeniedException: (f) => new AccessDenied({ ...f, action: actionOf(f.operation) }),
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
  "KinesisConfigError",
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

/** Codes of a connection that could not be made (as opposed to one that broke: ECONNRESET, EPIPE). */
const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT"
])

/**
 * Where the SDK's default credential chain looks (@aws-sdk/credential-provider-node, `defaultProvider`),
 * with the files and profile this process would use.
 */
const credentialSources = (): string => {
  const env = process.env
  const home = "~/.aws"
  return [
    "the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
    `the shared files ${env.AWS_SHARED_CREDENTIALS_FILE ?? `${home}/credentials`} and ${
      env.AWS_CONFIG_FILE ?? `${home}/config`
    } (profile ${env.AWS_PROFILE ?? "default"}: keys, SSO, credential_process)`,
    "a web identity token (AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN)",
    "the container credentials endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI)",
    `the EC2 instance metadata service${env.AWS_EC2_METADATA_DISABLED === "true" ? " (disabled here)" : ""}`
  ].join(", ")
}

/** A failure that says the client is not configured to reach Kinesis (region, credentials, endpoint). */
const configFailure = (
  error: unknown,
  name: string,
  message: string,
  fields: Fields,
  endpoint: string | undefined
): KinesisConfigError | undefined => {
  if (message === "Region is missing" || name === "RegionMissing") {
    return new KinesisConfigError({
      ...fields,
      reason: "RegionMissing",
      retryable: false,
      message: "no AWS region: pass the region option, or set AWS_REGION (or AWS_DEFAULT_REGION) or a region " +
        `in the AWS profile (${process.env.AWS_PROFILE ?? "default"})`
    })
  }
  if (name === "CredentialsProviderError") {
    return new KinesisConfigError({
      ...fields,
      reason: "CredentialsNotFound",
      retryable: false,
      message: `no AWS credentials found (${message}); the SDK looked in ${credentialSources()}`
    })
  }
  const code = stringField(error, "code")
  const connectTimeout = name === "TimeoutError" && message.includes("without establishing a connection")
  if ((code !== undefined && UNREACHABLE_CODES.has(code)) || connectTimeout) {
    const host = stringField(error, "address") ?? stringField(error, "hostname")
    const port = Predicate.hasProperty(error, "port") && typeof error.port === "number" ? error.port : undefined
    const where = host !== undefined && port !== undefined ? `${host}:${port}` : endpoint ?? host
    return new KinesisConfigError({
      ...fields,
      reason: "EndpointUnreachable",
      endpoint: where,
      retryable: true,
      message: `cannot reach the Kinesis endpoint${where === undefined ? "" : ` ${where}`} (${message})`
    })
  }
  return undefined
}

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
  allowed: ReadonlyArray<ServiceError["_tag"]>,
  /** `host:port` the client sends to, when known (named by `EndpointUnreachable`). */
  endpoint?: string
): ServiceError => {
  // our own error, thrown where a request is built (a record a JavaScript caller got wrong)
  if (isKinesisError(error) && (allowed as ReadonlyArray<string>).includes(error._tag)) return error as ServiceError
  const name = stringField(error, "name") ?? stringField(error, "code") ?? "UnknownError"
  const message = stringField(error, "message") ?? String(error)
  const meta = metadata(error)
  const fields: Fields = { operation, stream, message, requestId: meta.requestId, cause: error }
  if (allowed.includes("KinesisConfigError")) {
    const config = configFailure(error, name, message, fields, endpoint)
    if (config !== undefined) return config
  }
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
