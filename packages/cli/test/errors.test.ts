/**
 * An optional package that is not installed (`bench --local` without `@effect-kinesis/local`) is one
 * typed line naming the package, not a stack trace; any other import failure stays a defect.
 */
import { AccessDenied, KinesisConfigError } from "@effect-kinesis/core/KinesisError"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import { importOptional, MissingPackage, reportCause, reportError } from "../src/internal/errors.js"

describe("importOptional", () => {
  it.effect("a package that is not installed fails with MissingPackage, reported as one line naming it", () =>
    Effect.gen(function*() {
      const missing: string = "@effect-kinesis/not-installed"
      const exit = yield* Effect.exit(importOptional(missing, "bench --local", () => import(missing)))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isSuccess(exit)) return
      const failure = Cause.failureOption(exit.cause)
      assert.isTrue(failure._tag === "Some" && failure.value instanceof MissingPackage)
      const report = reportCause(exit.cause)
      assert.strictEqual(report.code, 1)
      assert.strictEqual(
        report.line,
        "effect-kinesis: MissingPackage: bench --local needs the optional package @effect-kinesis/not-installed, " +
          "which is not installed (hint: install it beside the CLI (npm install @effect-kinesis/local), or give --endpoint)"
      )
    }))

  it.effect("an installed package loads", () =>
    Effect.gen(function*() {
      const Option = yield* importOptional("effect", "a test", () => import("effect/Option"))
      assert.isTrue(Option.isNone(Option.none()))
    }))

  it.effect("a module that fails to load for another reason is a defect, not MissingPackage", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        importOptional("@effect-kinesis/local", "a test", () => Promise.reject(new SyntaxError("Unexpected token")))
      )
      assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
    }))
})

describe("hints", () => {
  it("a configuration failure gets the hint of its reason; access denied names the action", () => {
    const line = (error: unknown) => reportError(error).line
    const fields = { operation: "putRecords", stream: "orders", message: "m" }
    assert.include(
      line(new KinesisConfigError({ ...fields, reason: "RegionMissing", retryable: false })),
      "(hint: pass --region, or set AWS_REGION"
    )
    assert.include(
      line(new KinesisConfigError({ ...fields, reason: "CredentialsNotFound", retryable: false })),
      "(hint: set AWS_PROFILE"
    )
    assert.include(
      line(new KinesisConfigError({ ...fields, reason: "EndpointUnreachable", endpoint: "h:1", retryable: true })),
      "(hint: check --endpoint (host and port)"
    )
    const denied = line(new AccessDenied(fields))
    assert.include(denied, "effect-kinesis: AccessDenied: m (putRecords orders)")
    assert.include(denied, "may not call kinesis:PutRecords on orders")
  })
})
