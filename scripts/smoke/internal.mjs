// The package's internals are not part of its API: importing them must fail.
try {
  await import("@effect-kinesis/core/internal/kinesis")
  console.error("internal.mjs: @effect-kinesis/core/internal/* was importable")
  process.exit(1)
} catch (error) {
  if (error.code !== "ERR_PACKAGE_PATH_NOT_EXPORTED") throw error
  console.log("internal.mjs: @effect-kinesis/core/internal/* is not exported")
}
