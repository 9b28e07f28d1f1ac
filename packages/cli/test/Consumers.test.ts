/**
 * `effect-kinesis consumers list|register|deregister` end to end: the bin as a child process (see
 * test/utils/process.ts) against the run's kinesis-local (kinesalite has no enhanced fan-out), by stream
 * name and by ARN; then its usage errors and help, and its parsing of consumer names and ARNs.
 */
import { Kinesis, StreamAddress } from "@effect-kinesis/core"
import { assert, describe, inject, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { freshStreamName, kinesisLocalLayer } from "../../core/test/utils/servers.js"
import { parseConsumerArn, parseConsumerName } from "../src/internal/consumers.js"
import { cli, lines } from "./utils/process.js"

const kinesisLocal = () => ["--endpoint", inject("kinesisLocal").endpoint]

/** A new stream, ACTIVE, on kinesis-local. */
const createStream = (prefix: string) =>
  Effect.gen(function*() {
    const name = freshStreamName(prefix)
    yield* Kinesis.createStream({ streamName: name, shardCount: 1, waitUntilActive: true })
    const { streamARN } = yield* Kinesis.describeStreamSummary(StreamAddress.unsafeMake(name))
    return { name, streamARN }
  })

interface ConsumerJson {
  readonly consumerName: string
  readonly consumerARN: string
  readonly status: string
  readonly createdAt: string
  readonly streamARN: string
  readonly alreadyRegistered?: boolean
}

/** `consumers list --json`. */
const listJson = (stream: string) =>
  Effect.map(cli(["consumers", "list", "--stream", stream, ...kinesisLocal(), "--json"]), (result) => {
    assert.strictEqual(result.code, 0, result.stderr)
    return JSON.parse(result.stdout) as ReadonlyArray<ConsumerJson>
  })

/** `consumers list --json` until no consumer `name` is left (a deregistered one is DELETING for a while). */
const untilGone = (stream: string, name: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 30; i++) {
      const consumers = yield* listJson(stream)
      const consumer = consumers.find((c) => c.consumerName === name)
      if (consumer === undefined) return
      assert.strictEqual(consumer.status, "DELETING")
      yield* Effect.sleep("500 millis")
    }
    assert.fail(`consumer ${name} still listed`)
  })

const TIMEOUT = 120_000

describe.concurrent("effect-kinesis consumers (child processes, kinesis-local)", () => {
  it.live(
    "register waits until ACTIVE, list shows it, register again is idempotent, deregister removes it",
    () =>
      Effect.gen(function*() {
        const { name, streamARN } = yield* createStream("cli-consumers")

        const empty = yield* cli(["consumers", "list", "--stream", name, ...kinesisLocal()])
        assert.strictEqual(empty.code, 0, empty.stderr)
        assert.strictEqual(empty.stdout, `no consumers on ${name}\n`)

        // --log-level after the options (@effect/cli alone would not find it there)
        const register = yield* cli([
          "consumers",
          "register",
          "--stream",
          name,
          "--name",
          "app-1",
          ...kinesisLocal(),
          "--log-level",
          "info"
        ])
        assert.strictEqual(register.code, 0, register.stderr)
        assert.match(
          register.stderr,
          new RegExp(`^effect-kinesis: info: waiting for consumer app-1 on ${name} to be ACTIVE`, "m")
        )
        assert.match(register.stdout, new RegExp(`^registered consumer app-1 on ${name}$`, "m"))
        assert.match(register.stdout, /^Consumer\s+app-1$/m)
        assert.match(register.stdout, /^Status\s+ACTIVE$/m)
        assert.match(register.stdout, new RegExp(`^ARN\\s+${streamARN}/consumer/app-1:\\d+$`, "m"))
        assert.match(register.stdout, new RegExp(`^Stream\\s+${streamARN}$`, "m"))
        assert.match(register.stdout, /^Created\s+\d{4}-\d\d-\d\dT/m)

        const list = yield* cli(["consumers", "list", "--stream", name, ...kinesisLocal()])
        assert.strictEqual(list.code, 0, list.stderr)
        assert.match(list.stdout, /^NAME\s+STATUS\s+ARN\s+CREATED$/m)
        assert.match(
          list.stdout,
          new RegExp(`^app-1\\s+ACTIVE\\s+${streamARN}/consumer/app-1:\\d+\\s+\\d{4}-\\d\\d-\\d\\dT`, "m")
        )
        const [listed] = yield* listJson(name)
        assert.strictEqual(listed?.consumerName, "app-1")
        assert.strictEqual(listed?.status, "ACTIVE")
        assert.strictEqual(listed?.streamARN, streamARN)

        // a second registration keeps the consumer as it is
        const again = yield* cli(["consumers", "register", "--stream", name, "--name", "app-1", ...kinesisLocal()])
        assert.strictEqual(again.code, 0, again.stderr)
        assert.match(again.stdout, new RegExp(`^consumer app-1 was already registered on ${name}$`, "m"))
        assert.match(again.stdout, /^Status\s+ACTIVE$/m)
        const againJson = yield* cli([
          "consumers",
          "register",
          "--stream",
          name,
          "--name",
          "app-1",
          "--json",
          ...kinesisLocal()
        ])
        assert.strictEqual(againJson.code, 0, againJson.stderr)
        const registered = JSON.parse(againJson.stdout) as ConsumerJson
        assert.strictEqual(registered.consumerARN, listed?.consumerARN)
        assert.strictEqual(registered.alreadyRegistered, true)
        assert.strictEqual(registered.status, "ACTIVE")
        assert.strictEqual((yield* listJson(name)).length, 1)

        const deregister = yield* cli([
          "consumers",
          "deregister",
          "--stream",
          name,
          "--name",
          "app-1",
          ...kinesisLocal()
        ])
        assert.strictEqual(deregister.code, 0, deregister.stderr)
        assert.strictEqual(
          deregister.stdout,
          `deregistered consumer app-1 from ${name} (DELETING until it is gone): ${listed?.consumerARN}\n`
        )
        yield* untilGone(name, "app-1")
        const after = yield* cli(["consumers", "list", "--stream", name, ...kinesisLocal()])
        assert.strictEqual(after.stdout, `no consumers on ${name}\n`)
      }).pipe(Effect.provide(kinesisLocalLayer())),
    TIMEOUT
  )

  it.live(
    "by ARN: register on the stream's ARN, list it, deregister by the consumer's --arn",
    () =>
      Effect.gen(function*() {
        const { streamARN } = yield* createStream("cli-consumers-arn")
        const register = yield* cli([
          "consumers",
          "register",
          "--stream",
          streamARN,
          "--name",
          "by-arn",
          "--json",
          ...kinesisLocal()
        ])
        assert.strictEqual(register.code, 0, register.stderr)
        const consumer = JSON.parse(register.stdout) as ConsumerJson
        assert.strictEqual(consumer.consumerName, "by-arn")
        assert.strictEqual(consumer.status, "ACTIVE")
        assert.strictEqual(consumer.alreadyRegistered, false)
        assert.isFalse(Number.isNaN(Date.parse(consumer.createdAt)))

        const listed = yield* listJson(streamARN)
        assert.deepStrictEqual(listed.map((c) => [c.consumerName, c.consumerARN, c.status]), [
          ["by-arn", consumer.consumerARN, "ACTIVE"]
        ])

        const deregister = yield* cli([
          "consumers",
          "deregister",
          "--arn",
          consumer.consumerARN,
          ...kinesisLocal()
        ])
        assert.strictEqual(deregister.code, 0, deregister.stderr)
        assert.strictEqual(
          deregister.stdout,
          `deregistered consumer by-arn from ${streamARN} (DELETING until it is gone): ${consumer.consumerARN}\n`
        )
        yield* untilGone(streamARN, "by-arn")

        // gone: deregistering it again by its ARN is an error
        const again = yield* cli(["consumers", "deregister", "--arn", consumer.consumerARN, ...kinesisLocal()])
        assert.strictEqual(again.code, 1, again.stderr)
        assert.strictEqual(again.stdout, "")
        assert.match(
          again.stderr,
          new RegExp(`^effect-kinesis: ConsumerNotFound: no consumer ${consumer.consumerARN} `)
        )
      }).pipe(Effect.provide(kinesisLocalLayer())),
    TIMEOUT
  )

  it.live(
    "deregister of an unknown consumer is one typed error line with a hint, exit 1",
    () =>
      Effect.gen(function*() {
        const { name } = yield* createStream("cli-consumers-missing")
        const result = yield* cli(["consumers", "deregister", "--stream", name, "--name", "nope", ...kinesisLocal()])
        assert.strictEqual(result.code, 1, result.stderr)
        assert.strictEqual(result.stdout, "")
        assert.strictEqual(
          result.stderr,
          `effect-kinesis: ConsumerNotFound: no consumer nope on ${name} (hint: check --name (or --arn), --stream and ` +
            "--region (and --endpoint); `effect-kinesis consumers list --stream STREAM` lists a stream's consumers)\n"
        )

        // an unknown stream: the stream's error
        const missing = yield* cli([
          "consumers",
          "list",
          "--stream",
          freshStreamName("cli-consumers-none"),
          ...kinesisLocal()
        ])
        assert.strictEqual(missing.code, 1)
        assert.match(missing.stderr, /^effect-kinesis: ResourceNotFound: .* \(hint: check the stream name/)
      }).pipe(Effect.provide(kinesisLocalLayer())),
    TIMEOUT
  )

  it.live("register fails when the consumer is not ACTIVE within --timeout", () =>
    Effect.gen(function*() {
      // kinesis-local makes a consumer ACTIVE after 50 ms; register asks again a second later
      const { name } = yield* createStream("cli-consumers-timeout")
      const result = yield* cli([
        "consumers",
        "register",
        "--stream",
        name,
        "--name",
        "slow",
        "--timeout",
        "900ms",
        ...kinesisLocal()
      ])
      assert.strictEqual(result.code, 1, result.stderr)
      assert.strictEqual(result.stdout, "")
      assert.match(
        result.stderr,
        new RegExp(
          `^effect-kinesis: ConsumerNotActive: consumer slow on ${name} is still CREATING after 900ms \\(--timeout\\) ` +
            "\\(hint: .*raise --timeout"
        )
      )
    }).pipe(Effect.provide(kinesisLocalLayer())), TIMEOUT)

  it.live("bad command lines are usage errors: exit 2, nothing on stdout", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [ReadonlyArray<string>, RegExp]> = [
        [
          ["consumers"],
          /UsageError: missing command: list, register, deregister \(hint: run `effect-kinesis consumers --help`\)/
        ],
        [
          ["consumers", "foo"],
          /unknown command 'consumers foo' \(the consumers commands: list, register, deregister\)/
        ],
        [["consumers", "list"], /missing option --stream \(hint: run `effect-kinesis consumers list --help`\)/],
        [["consumers", "list", "--strem", "s"], /unknown option '--strem' \(did you mean --stream\?\)/],
        [["consumers", "register", "--stream", "s"], /missing option --name/],
        [
          ["consumers", "register", "--stream", "s", "--name", "a b", ...kinesisLocal()],
          /--name: 'a b' is not a consumer name/
        ],
        [["consumers", "deregister", "--stream", "s", ...kinesisLocal()], /--stream needs --name/],
        [["consumers", "deregister", ...kinesisLocal()], /give the consumer: --stream and --name, or --arn/],
        [
          ["consumers", "deregister", "--arn", "x", "--name", "n", ...kinesisLocal()],
          /either --arn, or --stream and --name/
        ],
        [
          ["consumers", "deregister", "--arn", "arn:aws:kinesis:us-east-1:1:stream/s", ...kinesisLocal()],
          /--arn: .* is not a consumer ARN/
        ],
        [
          ["consumers", "list", "--stream", "not a stream!", ...kinesisLocal()],
          /^effect-kinesis: InvalidStreamAddress: /m
        ]
      ]
      const results = yield* Effect.forEach(cases, ([args]) => cli(args), { concurrency: "unbounded" })
      results.forEach((result, i) => {
        const [args, stderr] = cases[i]!
        assert.strictEqual(result.code, 2, `${args.join(" ")}: ${result.stderr}`)
        assert.strictEqual(result.stdout, "", args.join(" "))
        assert.match(result.stderr, stderr, args.join(" "))
      })
    }), TIMEOUT)

  it.live(
    "--help lists the consumers commands; each command's help is under its full name",
    () =>
      Effect.gen(function*() {
        const [root, consumers, list, register, deregister, afterOptions] = yield* Effect.all([
          cli(["--help"]),
          cli(["consumers", "--help"]),
          cli(["consumers", "list", "--help"]),
          cli(["consumers", "register", "--help"]),
          cli(["consumers", "deregister", "--help"]),
          // after options, as one edits the command line
          cli(["consumers", "register", "--stream", "s", "--name", "n", "--help"])
        ], { concurrency: "unbounded" })
        for (const page of [root, consumers, list, register, deregister, afterOptions]) {
          assert.strictEqual(page.code, 0, page.stderr)
          assert.strictEqual(page.stderr, "")
          assert.notInclude(page.stdout, "\x1b")
          assert.deepStrictEqual(page.stdout.split("\n").filter((line) => line.length > 80), [])
        }
        assert.match(root.stdout, /^consumers list\|register\|deregister\n {2}\S/m)

        assert.match(consumers.stdout, /^USAGE\n\neffect-kinesis consumers COMMAND \[ARGUMENTS\] \[OPTIONS\]$/m)
        const commands = lines(consumers.stdout.slice(consumers.stdout.indexOf("COMMANDS")))
        assert.deepStrictEqual(commands.filter((line) => !line.startsWith(" ")), [
          "COMMANDS",
          "list --stream STREAM",
          "register --stream STREAM --name NAME",
          "deregister"
        ])

        assert.match(
          list.stdout,
          /^USAGE\n\neffect-kinesis consumers list \[--region REGION\] \[--endpoint URL\] \[--json\]/m
        )
        assert.match(register.stdout, /^USAGE\n\neffect-kinesis consumers register \[--region REGION\]/m)
        assert.match(register.stdout, /^--timeout DURATION\n {2}how long to wait for the consumer to be ACTIVE/m)
        assert.match(deregister.stdout, /^USAGE\n\neffect-kinesis consumers deregister \[--region REGION\]/m)
        assert.match(deregister.stdout, /^--arn ARN$/m)
        assert.strictEqual(afterOptions.stdout, register.stdout)
      }),
    TIMEOUT
  )
})

describe("consumer names and ARNs", () => {
  it.effect("a consumer ARN gives its stream; anything else is a usage error", () =>
    Effect.gen(function*() {
      const parsed = yield* parseConsumerArn(
        "arn:aws:kinesis:eu-west-1:123456789012:stream/orders/consumer/app:1700000000"
      )
      assert.strictEqual(
        parsed.consumerARN,
        "arn:aws:kinesis:eu-west-1:123456789012:stream/orders/consumer/app:1700000000"
      )
      assert.strictEqual(parsed.stream._tag, "StreamArn")
      if (parsed.stream._tag === "StreamArn") {
        assert.strictEqual(parsed.stream.region, "eu-west-1")
        assert.strictEqual(parsed.stream.arn, "arn:aws:kinesis:eu-west-1:123456789012:stream/orders")
      }
      for (
        const bad of [
          "app",
          "arn:aws:kinesis:eu-west-1:123456789012:stream/orders",
          "arn:aws:kinesis:eu-west-1:123456789012:stream/orders/consumer/app",
          "arn:aws:kinesis:eu-west-1:123456789012:stream/or ders/consumer/app:1"
        ]
      ) {
        const exit = yield* Effect.exit(parseConsumerArn(bad))
        assert.isTrue(Exit.isFailure(exit), bad)
      }
      assert.strictEqual(yield* parseConsumerName("app_1.v-2"), "app_1.v-2")
      assert.isTrue(Exit.isFailure(yield* Effect.exit(parseConsumerName(""))))
      assert.isTrue(Exit.isFailure(yield* Effect.exit(parseConsumerName("x".repeat(129)))))
    }))
})
