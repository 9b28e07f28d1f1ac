/**
 * How does the engine say no? The typed errors its operations fail with, worded as AWS words them
 * (the messages are matched by tests and by code that parses them: keep them byte for byte), and the
 * errors a `failNext` fault injects by tag.
 *
 * State owned: none but the account id the messages name.
 * Called by: every part of the engine (streams.ts, writes.ts, reads.ts, listing.ts, resharding.ts)
 * through one `Errors` instance, and service.ts (`injectedError`, for `KinesisTest.failNext`).
 * Invariants: an `InvalidArgument` carries the AWS exception name the service would send
 * (`ValidationException` for a request that fails its schema, `InvalidArgumentException` otherwise).
 *
 * @internal
 */
import {
  AccessDenied,
  ExpiredIterator,
  ExpiredNextToken,
  InvalidArgument,
  KinesisConfigError,
  KinesisUnknownError,
  KmsError,
  LimitExceeded,
  ProvisionedThroughputExceeded,
  ResourceInUse,
  ResourceNotFound,
  type ServiceError
} from "../../KinesisError.js"
import type { Operation } from "./calls.js"
import type { ShardState, StreamState } from "./state.js"

/** The engine's errors, with AWS's messages, for one account. @internal */
export class Errors {
  constructor(readonly accountId: string) {}

  notFound(operation: string, stream: string | undefined, name: string): ResourceNotFound {
    return new ResourceNotFound({
      operation,
      stream,
      message: `Stream ${name} under account ${this.accountId} not found.`
    })
  }

  shardNotFound(operation: string, stream: string | undefined, name: string, shardId: string): ResourceNotFound {
    return new ResourceNotFound({
      operation,
      stream,
      message: `Shard ${shardId} in stream ${name} under account ${this.accountId} does not exist`
    })
  }

  notActive(operation: string, stream: string | undefined, s: StreamState): ResourceInUse {
    return new ResourceInUse({
      operation,
      stream,
      message: `Stream ${s.name} under account ${this.accountId} not ACTIVE, instead in state ${s.status}`
    })
  }

  alreadyExists(operation: string, stream: string | undefined, name: string): ResourceInUse {
    return new ResourceInUse({
      operation,
      stream,
      message: `Stream ${name} under account ${this.accountId} already exists.`
    })
  }

  limitExceeded(operation: string, stream: string | undefined, message: string): LimitExceeded {
    return new LimitExceeded({ operation, stream, message })
  }

  invalid(
    operation: string,
    stream: string | undefined,
    message: string,
    awsName: "InvalidArgumentException" | "ValidationException" = "InvalidArgumentException"
  ): InvalidArgument {
    return new InvalidArgument({ operation, stream, message, awsName })
  }

  /** A request that fails AWS's schema: one field's `value` breaks its `constraint`. */
  validation(
    operation: string,
    stream: string | undefined,
    value: string | number,
    field: string,
    constraint: string
  ): InvalidArgument {
    return this.invalid(
      operation,
      stream,
      `1 validation error detected: Value '${value}' at '${field}' failed to satisfy constraint: ${constraint}`,
      "ValidationException"
    )
  }

  /** The message of a shard's throttle (a request error, or a record's error in a PutRecords response). */
  rateExceeded(s: StreamState, shard: ShardState): string {
    return `Rate exceeded for shard ${shard.id} in stream ${s.name} under account ${this.accountId}.`
  }

  throttled(
    operation: string,
    stream: string | undefined,
    s: StreamState,
    shard: ShardState
  ): ProvisionedThroughputExceeded {
    return new ProvisionedThroughputExceeded({
      operation,
      stream,
      shardId: shard.id,
      message: this.rateExceeded(s, shard)
    })
  }
}

/** Builds the error a `failNext` fault names by its tag, with an AWS-like message. @internal */
export const injectedError = (
  tag: ServiceError["_tag"],
  operation: Operation,
  stream: string | undefined,
  accountId: string
): ServiceError => {
  const fields = { operation, stream, message: "" }
  const where = stream === undefined ? "" : ` for stream ${stream} under account ${accountId}`
  const suffix = " (injected by KinesisTest)"
  switch (tag) {
    case "ProvisionedThroughputExceeded":
      return new ProvisionedThroughputExceeded({ ...fields, message: `Rate exceeded${where}.${suffix}` })
    case "ExpiredIterator":
      return new ExpiredIterator({ ...fields, message: `Iterator expired.${suffix}` })
    case "ExpiredNextToken":
      return new ExpiredNextToken({ ...fields, message: `The NextToken has expired.${suffix}` })
    case "ResourceNotFound":
      return new ResourceNotFound({
        ...fields,
        message: `Stream ${stream} under account ${accountId} not found.${suffix}`
      })
    case "ResourceInUse":
      return new ResourceInUse({
        ...fields,
        message: `Stream ${stream} under account ${accountId} not ACTIVE, instead in state UPDATING.${suffix}`
      })
    case "InvalidArgument":
      return new InvalidArgument({
        ...fields,
        awsName: "InvalidArgumentException",
        message: `Invalid argument.${suffix}`
      })
    case "AccessDenied":
      return new AccessDenied({
        ...fields,
        message: `User is not authorized to perform ${operation}${where}.${suffix}`
      })
    case "LimitExceeded":
      return new LimitExceeded({ ...fields, message: `Rate exceeded${where}.${suffix}` })
    case "KmsError":
      return new KmsError({ ...fields, kind: "KMSThrottlingException", message: `KMS rate exceeded.${suffix}` })
    case "KinesisConfigError":
      // a network outage, the kind that passes
      return new KinesisConfigError({
        ...fields,
        reason: "EndpointUnreachable",
        endpoint: "kinesis.us-east-1.amazonaws.com:443",
        retryable: true,
        message: `connect ECONNREFUSED kinesis.us-east-1.amazonaws.com:443.${suffix}`
      })
    case "KinesisUnknownError":
      return new KinesisUnknownError({
        ...fields,
        name: "InternalFailure",
        retryable: true,
        message: `Internal service failure.${suffix}`
      })
  }
}
