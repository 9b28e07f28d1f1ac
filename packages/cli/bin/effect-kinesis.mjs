#!/usr/bin/env node
// effect-kinesis: the runbook CLI of effect-kinesis (see ../src/Cli.ts; exit codes in Cli.ExitCode).
//
// This workspace ships the package's TypeScript sources, not a build (its exports point at src/*.ts):
// tsx compiles them as they load. A published build would import ../build/esm/bin.js instead.
import { fileURLToPath } from "node:url"

// The AWS SDK warns on every start that its 2027 releases will need Node 22: not a CLI user's concern
// (set the variable to "false" to see it).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true"

// Startup: the dependencies are plain JavaScript, so they are loaded before tsx's loader is registered —
// through its hooks every one of their ~600 modules costs a round trip to the loader thread (about 1 s in
// all). The TypeScript sources then find them in the module cache.
await Promise.all([
  import("effect"),
  import("@effect/cli"),
  import("@effect/platform-node/NodeContext"),
  import("@effect/platform-node/NodeRuntime")
])

const { register } = await import("tsx/esm/api")
register({ tsconfig: fileURLToPath(new URL("../tsconfig.src.json", import.meta.url)) })

const { main } = await import("../src/bin.ts")
main(process.argv)
