import * as Kinesis from "@effect-kinesis/core/Kinesis"
import * as StreamAddress from "@effect-kinesis/core/StreamAddress"
import { inject } from "vitest"

const credentials = { accessKeyId: "local", secretAccessKey: "local" }

/** The port over the shared kinesalite of the test run (data plane: the default, CBOR). */
export const kinesaliteLayer = (dataPlane?: Kinesis.DataPlane) => {
  const { endpoint, region } = inject("kinesalite")
  return Kinesis.layer({ endpoint, region, credentials, dataPlane })
}

/** The port over the shared kinesis-local (kinesis-mock) of the test run (data plane: the default, CBOR). */
export const kinesisLocalLayer = (dataPlane?: Kinesis.DataPlane) => {
  const { endpoint, region } = inject("kinesisLocal")
  return Kinesis.layer({ endpoint, region, credentials, dataPlane })
}

let counter = 0

/** A stream name no other test uses (tests run concurrently against shared servers). */
export const freshStreamName = (prefix = "test"): string =>
  `${prefix}-${process.pid}-${Date.now().toString(36)}-${(counter++).toString(36)}`

/** A fresh stream address. */
export const freshStream = (prefix?: string): StreamAddress.StreamAddress =>
  StreamAddress.unsafeMake(freshStreamName(prefix))
