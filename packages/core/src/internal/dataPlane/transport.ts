/**
 * Sends a data-plane request the way the SDK client would, without its serializers: the endpoint
 * resolved from the client's own configuration (a custom endpoint, or its endpoint rules with region,
 * FIPS, dual-stack and — for a stream ARN — the account's data endpoint), a SigV4 signature over the
 * client's credential provider (so refreshed credentials carry over), and the client's own
 * `requestHandler` (keep-alive agents, proxies, timeouts, HTTP/2; the abort signal interrupts it).
 *
 * Clock skew is corrected as the SDK does: a response whose `Date` is more than 5 minutes from ours
 * sets the client's `systemClockOffset`, and a request rejected for its signature's time is signed
 * again once with the corrected clock.
 *
 * A failed call throws an error shaped like the SDK's (`name`, `message`, `$metadata`), so one table
 * (`fromSdkError`) maps both paths to the same tagged errors.
 *
 * @internal
 */
import type { KinesisClient } from "@aws-sdk/client-kinesis"
import type { HttpRequest } from "@smithy/core/protocols"
import { SignatureV4 } from "@smithy/signature-v4"
import type * as StreamAddress from "../../StreamAddress.js"
import { type Body, type Format, parse, type ResponseBody } from "./records.js"

/** The data-plane operations sent this way. */
export type Operation = "PutRecords" | "PutRecord" | "GetRecords"

/** A data-plane request failed: the service's error, shaped as the SDK shapes its exceptions. */
export class DataPlaneError extends Error {
  readonly $metadata: { readonly httpStatusCode: number; readonly requestId: string | undefined }
  constructor(
    override readonly name: string,
    message: string,
    httpStatusCode: number,
    requestId: string | undefined
  ) {
    super(message)
    this.$metadata = { httpStatusCode, requestId }
  }
}

/** Error codes of a signature whose time the service rejected (AWS SDK for Java, `AwsErrorCodes`). */
const CLOCK_SKEW_CODES = new Set([
  "RequestTimeTooSkewed",
  "RequestExpired",
  "InvalidSignatureException",
  "SignatureDoesNotMatch",
  "AuthFailure",
  "RequestInTheFuture"
])

/** A skew the SDK corrects (its `isClockSkewed`): 5 minutes. */
const SKEW_MS = 300_000

interface Target {
  readonly protocol: string
  readonly hostname: string
  readonly port: number | undefined
  readonly path: string
}

/** The error code of a `__type` or `x-amzn-ErrorType` value such as `aws.kinesis#ExpiredIteratorException:...`. */
const errorCode = (raw: string): string => {
  // as the SDKs do: what precedes the first ":" (a URL may follow), after the last "#" (a namespace)
  const colon = raw.indexOf(":")
  const name = colon >= 0 ? raw.slice(0, colon) : raw
  return name.slice(name.lastIndexOf("#") + 1)
}

const header = (headers: Record<string, string | undefined>, name: string): string | undefined => {
  const direct = headers[name]
  if (direct !== undefined) return direct
  for (const key of Object.keys(headers)) if (key.toLowerCase() === name) return headers[key]
  return undefined
}

/** The error of a non-2xx response (its body may be CBOR, JSON, empty or anything else). */
const toError = (
  status: number,
  headers: Record<string, string | undefined>,
  body: ResponseBody,
  format: Format
): DataPlaneError => {
  let fields: Record<string, unknown> = {}
  try {
    const type = header(headers, "content-type") ?? ""
    const parsed = parse(type.includes("json") ? "json" : type.includes("cbor") ? "cbor" : format, body)
    if (typeof parsed === "object" && parsed !== null) fields = parsed as Record<string, unknown>
  } catch {
    // not a body we can read: the status alone tells
  }
  const str = (u: unknown) => typeof u === "string" && u.length > 0 ? u : undefined
  const code = str(header(headers, "x-amzn-errortype")) ?? str(fields.__type) ?? str(fields.code)
  const message = str(header(headers, "x-amzn-error-message")) ?? str(fields.message) ?? str(fields.Message) ??
    str(fields.errorMessage) ?? `HTTP ${status}`
  const name = code !== undefined
    ? errorCode(code)
    : status === 503
    ? "ServiceUnavailable"
    : status >= 500
    ? "InternalFailure"
    : `Http${status}`
  return new DataPlaneError(name, message, status, header(headers, "x-amzn-requestid"))
}

/** A Node stream (`http.IncomingMessage` from the client's `NodeHttpHandler`). */
interface NodeReadable {
  on(event: "data", listener: (chunk: Uint8Array) => void): unknown
  once(event: "end" | "close", listener: () => void): unknown
  once(event: "error", listener: (error: unknown) => void): unknown
  readonly readableEnded: boolean
}

const isNodeReadable = (body: unknown): body is NodeReadable =>
  typeof body === "object" && body !== null && "on" in body && typeof body.on === "function" &&
  "readableEnded" in body

/**
 * A response body's chunks. A Node stream is read with `data` events and its chunks kept as they came:
 * the CBOR reader decodes over them in place (joining a 10 MB GetRecords body into one fresh buffer cost
 * ~2.5 µs per 1 KiB record, more than decoding it), so record data are views into the socket's reads.
 * No piping through a `Writable` as the SDK's collector does (~5 % of a GetRecords' client CPU); anything
 * else (a web stream, a Blob from another handler) goes through the client's own collector.
 */
const collect = async (body: unknown, fallback: ClientConfig["streamCollector"]): Promise<ResponseBody> => {
  if (!isNodeReadable(body)) return [await fallback(body)]
  return new Promise<ResponseBody>((resolve, reject) => {
    const chunks: Array<Uint8Array> = []
    body.on("data", (chunk) => {
      chunks.push(chunk)
    })
    body.once("end", () => resolve(chunks))
    body.once("error", reject)
    // a socket closed before the end (an aborted request) without an error event
    body.once("close", () => {
      // (a network failure, retryable like the SDK's ECONNRESET)
      if (!body.readableEnded) {
        reject(Object.assign(new Error("the connection closed before the response's end"), { code: "ECONNRESET" }))
      }
    })
  })
}

/** The transport of one client. */
export interface Transport {
  readonly send: (
    operation: Operation,
    format: Format,
    body: Body,
    stream: StreamAddress.StreamAddress | undefined,
    abortSignal: AbortSignal,
    /** Filled in with the response's request id (for the call's span). */
    meta?: { requestId?: string | undefined }
  ) => Promise<ResponseBody>
}

/** The configuration fields of an SDK client this transport uses (all resolved by the client). */
type ClientConfig = KinesisClient["config"]

export const make = (client: KinesisClient): Transport => {
  const config: ClientConfig = client.config
  let signer: Promise<SignatureV4> | undefined
  const targets = new Map<string, Promise<Target>>()

  const getSigner = () =>
    signer ??= config.region().then((region) =>
      new SignatureV4({
        credentials: config.credentials,
        region,
        service: "kinesis",
        sha256: config.sha256,
        uriEscapePath: true
      })
    )

  const resolveTarget = async (arn: string | undefined): Promise<Target> => {
    if (config.isCustomEndpoint && config.endpoint !== undefined) {
      const e = await config.endpoint()
      return { protocol: e.protocol, hostname: e.hostname, port: e.port, path: e.path || "/" }
    }
    const [region, useFips, useDualStack] = await Promise.all([
      config.region(),
      config.useFipsEndpoint(),
      config.useDualstackEndpoint()
    ])
    const endpoint = config.endpointProvider({
      Region: region,
      UseFIPS: useFips,
      UseDualStack: useDualStack,
      ...(arn === undefined ? {} : { StreamARN: arn, OperationType: "data" })
    })
    const url = endpoint.url
    return {
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port === "" ? undefined : Number(url.port),
      path: url.pathname || "/"
    }
  }

  const getTarget = (stream: StreamAddress.StreamAddress | undefined) => {
    const arn = stream?._tag === "StreamArn" ? stream.arn : undefined
    const key = arn ?? ""
    let target = targets.get(key)
    if (target === undefined) {
      target = resolveTarget(arn)
      // a failed resolution is not cached
      target.catch(() => targets.delete(key))
      targets.set(key, target)
    }
    return target
  }

  /** Moves the client's clock offset to the server's `Date`, when it is off by more than 5 minutes. */
  const correctClock = (date: string | undefined): boolean => {
    if (date === undefined) return false
    const serverTime = Date.parse(date)
    if (Number.isNaN(serverTime)) return false
    const offset = config.systemClockOffset ?? 0
    if (Math.abs(serverTime - (Date.now() + offset)) < SKEW_MS) return false
    config.systemClockOffset = serverTime - Date.now()
    return true
  }

  const attempt = async (
    operation: Operation,
    format: Format,
    body: Body,
    stream: StreamAddress.StreamAddress | undefined,
    abortSignal: AbortSignal,
    retriedSkew: boolean,
    meta: { requestId?: string | undefined } | undefined
  ): Promise<ResponseBody> => {
    const [target, sign] = await Promise.all([getTarget(stream), getSigner()])
    const host = target.port === undefined ? target.hostname : `${target.hostname}:${target.port}`
    // The fields of an HttpRequest: the signer makes its own HttpRequest from them (HttpRequest.clone), so this
    // module loads nothing of @smithy/core's ESM protocols (the signer uses its CommonJS build: importing
    // the class here would load that code a second time, ~12 ms of every process's start).
    const request = {
      method: "POST",
      protocol: target.protocol,
      hostname: target.hostname,
      ...(target.port === undefined ? {} : { port: target.port }),
      path: target.path,
      query: {},
      headers: {
        host,
        "content-type": body.contentType,
        "content-length": String(body.body.length),
        "x-amz-target": `Kinesis_20131202.${operation}`
      },
      body: body.body
    } as unknown as HttpRequest
    const signed = await sign.sign(request, { signingDate: new Date(Date.now() + (config.systemClockOffset ?? 0)) })
    const { response } = await config.requestHandler.handle(signed as HttpRequest, { abortSignal })
    const bytes = await collect(response.body, config.streamCollector)
    const headers = response.headers as Record<string, string | undefined>
    if (meta !== undefined) meta.requestId = header(headers, "x-amzn-requestid")
    const skewed = correctClock(header(headers, "date"))
    if (response.statusCode >= 200 && response.statusCode < 300) return bytes
    const error = toError(response.statusCode, headers, bytes, format)
    if (!retriedSkew && skewed && CLOCK_SKEW_CODES.has(error.name)) {
      return attempt(operation, format, body, stream, abortSignal, true, meta)
    }
    throw error
  }

  return {
    send: (operation, format, body, stream, abortSignal, meta) =>
      attempt(operation, format, body, stream, abortSignal, false, meta)
  }
}
