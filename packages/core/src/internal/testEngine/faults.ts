/**
 * Which faults are in force, and which one does this call meet? Failures registered through the
 * `KinesisTest` control service: a request error for the next calls of an operation (`failNext`),
 * record-level failures in PutRecords responses (`failRecords`), a random fraction of throttled
 * records (`throttleRecords`) and added latency (`setLatency`).
 *
 * State owned: the faults in force (a `Faults` instance, one per engine).
 * Called by: service.ts (registers and clears faults, takes the `failNext` error and the latency of
 * each call) and writes.ts (takes the record fault and the throttle of a PutRecords / PutRecord).
 * Invariants: a counted fault is removed when its count is used up; a throttle stays until
 * `clearFaults`; the first fault registered for a stream (or for every stream) is the one met.
 *
 * @internal
 */
import type * as Kinesis from "../../Kinesis.js"
import type { ServiceError } from "../../KinesisError.js"
import type { Operation, OperationError } from "./calls.js"

/** A request error for the next `remaining` calls of an operation. @internal */
export interface FailNextFault {
  remaining: number
  readonly stream: string | undefined
  readonly make: (stream: string | undefined) => ServiceError
}

/** Record-level failures for the next `remaining` PutRecords calls. @internal */
export interface RecordFault {
  remaining: number
  readonly stream: string | undefined
  readonly select: (entry: Kinesis.PutRecordsEntry, index: number) => boolean
  readonly errorCode: string
  readonly errorMessage: string | undefined
}

/** A fraction of the records written, failed at random from the seed. @internal */
export interface ThrottleFault {
  readonly stream: string | undefined
  readonly fraction: number
  readonly errorCode: string
}

/** The message of a record failed by a fault that gives none (the throttle's own is in errors.ts). @internal */
export const defaultRecordErrorMessage = (code: string): string =>
  code === "ProvisionedThroughputExceededException"
    ? "Rate exceeded (injected by KinesisTest)."
    : code === "InternalFailure"
    ? "Internal service failure (injected by KinesisTest)."
    : `${code} (injected by KinesisTest).`

/** The faults in force. @internal */
export class Faults {
  /** By operation; the errors of `failNext(op, …)` belong to `OperationError<op>` (its signature says so). */
  private readonly failNext = new Map<Operation, Array<FailNextFault>>()
  private records: Array<RecordFault> = []
  private throttles: Array<ThrottleFault> = []
  private readonly latency = new Map<Operation | "*", number>()

  clear(): void {
    this.failNext.clear()
    this.records = []
    this.throttles = []
    this.latency.clear()
  }

  addFailNext(operation: Operation, fault: FailNextFault): void {
    const faults = this.failNext.get(operation) ?? []
    faults.push(fault)
    this.failNext.set(operation, faults)
  }

  addRecordFault(fault: RecordFault): void {
    this.records.push(fault)
  }

  addThrottle(fault: ThrottleFault): void {
    this.throttles.push(fault)
  }

  setLatency(operation: Operation | "*", millis: number): void {
    this.latency.set(operation, millis)
  }

  latencyFor(operation: Operation): number {
    if (this.latency.size === 0) return 0
    return this.latency.get(operation) ?? this.latency.get("*") ?? 0
  }

  /** The injected error for this call, if a `failNext` fault matches (and is used up by it). */
  take<Op extends Operation>(operation: Op, stream: string | undefined): OperationError<Op> | undefined {
    if (this.failNext.size === 0) return undefined
    const faults = this.failNext.get(operation)
    if (faults === undefined || faults.length === 0) return undefined
    const i = faults.findIndex((f) => f.stream === undefined || f.stream === stream)
    if (i < 0) return undefined
    const fault = faults[i]!
    fault.remaining--
    if (fault.remaining <= 0) faults.splice(i, 1)
    // registered through `failNext<Op>`, whose options only admit `OperationError<Op>` (or its tags)
    return fault.make(stream) as OperationError<Op>
  }

  /** The record fault of this PutRecords call on `stream`, if one matches (one of its calls is used up). */
  takeRecordFault(stream: string): RecordFault | undefined {
    if (this.records.length === 0) return undefined
    const i = this.records.findIndex((f) => f.stream === undefined || f.stream === stream)
    if (i < 0) return undefined
    const fault = this.records[i]!
    if (--fault.remaining <= 0) this.records.splice(i, 1)
    return fault
  }

  /** The throttle in force on `stream`, if any. */
  throttleFor(stream: string): ThrottleFault | undefined {
    if (this.throttles.length === 0) return undefined
    return this.throttles.find((f) => f.stream === undefined || f.stream === stream)
  }
}
