/**
 * A local HTTP server that receives the AWS SDK's real PutMetricData requests.
 *
 * @aws-sdk/client-cloudwatch 3.1164 speaks the AWS JSON 1.0 protocol (`AwsJson1_0Protocol` with
 * `awsQueryCompatible: true` in its runtimeConfig.shared.js): `POST /`, `X-Amz-Target:
 * GraniteServiceVersion20100801.PutMetricData`, `Content-Type: application/x-amz-json-1.0`, a JSON body
 * with `Timestamp` as epoch seconds — gzip-compressed (`Content-Encoding: gzip`) when it is 10 KiB or
 * more (the command's compression plugin). Errors are JSON with `__type` plus an `x-amzn-query-error`
 * header (`Code;Sender|Receiver`).
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Zlib from "node:zlib"

export interface Dimension {
  readonly Name: string
  readonly Value: string
}

export interface Datum {
  readonly MetricName: string
  readonly Dimensions?: ReadonlyArray<Dimension>
  readonly Timestamp?: number
  readonly Value?: number
  readonly StatisticValues?: {
    readonly SampleCount: number
    readonly Sum: number
    readonly Minimum: number
    readonly Maximum: number
  }
  readonly Unit?: string
  readonly StorageResolution?: number
}

export interface Received {
  readonly target: string | undefined
  readonly contentType: string | undefined
  readonly encoding: string | undefined
  /** Bytes of the body as sent (compressed or not). */
  readonly wireBytes: number
  /** Bytes of the JSON body once decompressed. */
  readonly jsonBytes: number
  readonly namespace: string
  readonly metricData: ReadonlyArray<Datum>
}

export type Failure = "throttling" | "invalid" | "server"

export interface CloudWatchServer {
  readonly endpoint: string
  /** Every PutMetricData that was answered with success, in order. */
  readonly accepted: Array<Received>
  /** Every PutMetricData that was answered with an error, in order. */
  readonly refused: Array<Received>
  /** The next requests are answered with these errors, one each. */
  readonly failNext: (...failures: ReadonlyArray<Failure>) => void
}

const errors: Record<Failure, { status: number; type: string; query: string; message: string }> = {
  throttling: { status: 400, type: "Throttling", query: "Throttling;Sender", message: "Rate exceeded" },
  invalid: {
    status: 400,
    type: "com.amazonaws.cloudwatch#InvalidParameterValueException",
    query: "InvalidParameterValue;Sender",
    message: "The value NaN for parameter MetricData.member.1.Value is invalid."
  },
  server: {
    status: 500,
    type: "com.amazonaws.cloudwatch#InternalServiceFault",
    query: "InternalServiceError;Receiver",
    message: "Internal failure"
  }
}

export const cloudWatchServer: Effect.Effect<CloudWatchServer, never, Scope.Scope> = Effect
  .acquireRelease(
    Effect.async<{ server: Http.Server; state: CloudWatchServer }>((resume) => {
      const accepted: Array<Received> = []
      const refused: Array<Received> = []
      const pending: Array<Failure> = []
      const server = Http.createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", () => {
          const wire = Buffer.concat(chunks)
          const encoding = req.headers["content-encoding"]
          const json = encoding === "gzip" ? Zlib.gunzipSync(wire) : wire
          const body = JSON.parse(json.toString("utf8")) as { Namespace: string; MetricData?: Array<Datum> }
          const received: Received = {
            target: req.headers["x-amz-target"] as string | undefined,
            contentType: req.headers["content-type"],
            encoding,
            wireBytes: wire.length,
            jsonBytes: json.length,
            namespace: body.Namespace,
            metricData: body.MetricData ?? []
          }
          const failure = pending.shift()
          if (failure === undefined) {
            accepted.push(received)
            res.writeHead(200, { "content-type": "application/x-amz-json-1.0", "x-amzn-requestid": "test" })
            res.end("{}")
          } else {
            refused.push(received)
            const e = errors[failure]
            res.writeHead(e.status, {
              "content-type": "application/x-amz-json-1.0",
              "x-amzn-requestid": "test",
              "x-amzn-query-error": e.query
            })
            res.end(JSON.stringify({ __type: e.type, message: e.message }))
          }
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({
          server,
          state: {
            endpoint: `http://127.0.0.1:${port}`,
            accepted,
            refused,
            failNext: (...failures) => {
              pending.push(...failures)
            }
          }
        }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )
  .pipe(Effect.map(({ state }) => state))

/** Every datum the server accepted whose name starts with `prefix`. */
export const datums = (server: CloudWatchServer, prefix: string): Array<Datum> =>
  server.accepted.flatMap((r) => r.metricData).filter((d) => d.MetricName.startsWith(prefix))

/** The dimensions of a datum as a record. */
export const dims = (datum: Datum): Record<string, string> =>
  Object.fromEntries((datum.Dimensions ?? []).map((d) => [d.Name, d.Value]))
