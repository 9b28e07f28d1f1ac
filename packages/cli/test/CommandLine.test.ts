/**
 * The command line as a new user meets it, through the bin as a child process: every argument error is
 * one line `effect-kinesis: UsageError: … (hint: run \`effect-kinesis COMMAND --help\`)` on stderr with
 * exit code 2 and nothing else; `--help` in a pipe has no escape codes, fits 80 columns and names the
 * program in the usage.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { cli } from "./utils/process.js"

const TIMEOUT = 60_000

/** One usage line with the hint to the command's help, and nothing else anywhere. */
const assertUsageError = (
  args: ReadonlyArray<string>,
  result: { readonly code: number | null; readonly stdout: string; readonly stderr: string },
  message: RegExp,
  command: string | undefined
) => {
  const label = args.join(" ")
  assert.strictEqual(result.code, 2, `${label}: ${result.stderr}`)
  assert.strictEqual(result.stdout, "", label)
  const hint = `(hint: run \`effect-kinesis${command === undefined ? "" : ` ${command}`} --help\`)`
  assert.isTrue(result.stderr.endsWith(` ${hint}\n`), `${label}: ${result.stderr}`)
  assert.strictEqual(result.stderr.split("\n").length, 2, `${label}: one line: ${result.stderr}`)
  assert.match(result.stderr, /^effect-kinesis: UsageError: /, label)
  assert.match(result.stderr, message, label)
}

describe.concurrent("effect-kinesis command line (child processes)", () => {
  it.live("each kind of argument error is one line with a hint, exit code 2", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [ReadonlyArray<string>, RegExp, string | undefined]> = [
        // unknown option, with a suggestion when one is close
        [["tail", "s", "--jsn"], /unknown option '--jsn'/, "tail"],
        [["streams", "--jsn"], /unknown option '--jsn' \(did you mean --json\?\)/, "streams"],
        // a value that is not an integer, a choice, a duration, a log level
        [["tail", "s", "--limit", "abc"], /: --limit: 'abc' is not an integer \(/, "tail"],
        [["tail", "s", "--format", "xml"], /: --format: 'xml' is not one of raw, json, pretty \(/, "tail"],
        [["status", "s", "--timeout", "soon"], /: --timeout: 'soon' is not a duration/, "status"],
        [["streams", "--log-level", "loud"], /: --log-level: 'loud' is not one of all, trace, debug/, "streams"],
        // a missing argument, a missing value
        [["describe"], /: missing argument STREAM \(/, "describe"],
        [["tail", "s", "--limit"], /: --limit needs a value \(/, "tail"],
        // an argument too many
        [["streams", "extra"], /: unexpected argument 'extra' \(/, "streams"],
        // unknown sub-command, an option before the sub-command, no sub-command
        [
          ["tial", "s"],
          /: unknown command 'tial' \(the commands: streams, describe, status, put, tail, bench, consumers\)/,
          undefined
        ],
        [["--jsn"], /: unknown option '--jsn' before the command/, undefined],
        [[], /: missing command: streams, describe, status, put, tail, bench or consumers \(/, undefined],
        // found by the command itself, not the parser
        [["tail", "s", "--from", "yesterday"], /: --from must be trim-horizon, latest or timestamp/, "tail"],
        // still reported after --log-level (which @effect/cli handles by parsing again)
        [["tail", "s", "--log-level", "debug", "--jsn"], /unknown option '--jsn'/, "tail"],
        // a command of a group: the hint names both
        [["consumers", "list", "--jsn"], /unknown option '--jsn' \(did you mean --json\?\)/, "consumers list"],
        [["consumers", "register", "--stream", "s"], /: missing option --name \(/, "consumers register"],
        [
          ["consumers", "lst"],
          /: unknown command 'consumers lst' \(the consumers commands: list, register/,
          "consumers"
        ]
      ]
      const results = yield* Effect.forEach(cases, ([args]) => cli(args), { concurrency: "unbounded" })
      results.forEach((result, i) => {
        const [args, message, command] = cases[i]!
        assertUsageError(args, result, message, command)
      })
    }), TIMEOUT)

  it.live(
    "--help in a pipe: no escape codes, at most 80 columns, the program's name in the usage",
    () =>
      Effect.gen(function*() {
        const commands = ["streams", "describe", "status", "put", "tail", "bench"]
        const pages = yield* Effect.forEach(
          [[], ...commands.map((command) => [command])],
          (command) => cli([...command, "--help"]),
          { concurrency: "unbounded" }
        )
        pages.forEach((page, i) => {
          const label = i === 0 ? "--help" : `${commands[i - 1]} --help`
          assert.strictEqual(page.code, 0, `${label}: ${page.stderr}`)
          assert.strictEqual(page.stderr, "", label)
          assert.notInclude(page.stdout, "\x1b", `${label}: no escape codes`)
          const long = page.stdout.split("\n").filter((line) => line.length > 80)
          assert.deepStrictEqual(long, [], `${label}: lines over 80 columns`)
          assert.notMatch(page.stdout, /^\$ /m, label)
        })
        // the root lists the commands; each command's usage starts with the program's name
        assert.match(pages[0]!.stdout, /^USAGE\n\neffect-kinesis COMMAND /m)
        for (const command of commands) {
          assert.match(pages[0]!.stdout, new RegExp(`^${command}( <STREAM>)?\\n  \\S`, "m"))
        }
        commands.forEach((command, i) => {
          assert.match(
            pages[i + 1]!.stdout,
            new RegExp(`^USAGE\\n\\neffect-kinesis ${command} \\[--region REGION\\]`, "m")
          )
        })
        assert.match(pages[5]!.stdout, /^--timeout DURATION\n {2}how long to wait for contact/m)
      }),
    TIMEOUT
  )

  it.live("--version prints the version alone", () =>
    Effect.gen(function*() {
      const result = yield* cli(["--version"])
      assert.strictEqual(result.code, 0, result.stderr)
      assert.match(result.stdout, /^\d+\.\d+\.\d+\S*\n$/)
      assert.strictEqual(result.stderr, "")
    }), TIMEOUT)
})
