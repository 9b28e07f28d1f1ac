#!/usr/bin/env node
// effect-kinesis: the runbook CLI of effect-kinesis (../src/bin.ts, bundled into ../bundle/bin.js by scripts/bundle-cli.ts).

// The AWS SDK warns on every start that its 2027 releases will need Node 22: not a CLI user's concern
// (set the variable to "false" to see it).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true"

const { main } = await import("../bundle/bin.js")
main(process.argv)
