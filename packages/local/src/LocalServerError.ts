/**
 * The error of a local server that could not start.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * A local server could not be started (binary missing, port taken, did not become ready).
 *
 * @since 0.1.0
 * @category errors
 */
export class LocalServerError extends Data.TaggedError("LocalServerError")<{
  readonly server: string
  readonly message: string
  readonly cause?: unknown
}> {}
