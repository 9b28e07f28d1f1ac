/**
 * The help renderer on its own: colour only when asked for, every line within the width (long option
 * lists wrapped between options, words longer than a line cut), and the style stdout gets: its
 * terminal's width and colour on a terminal, 80 columns and no colour in a pipe or with NO_COLOR.
 */
import * as CliConfig from "@effect/cli/CliConfig"
import * as CommandDescriptor from "@effect/cli/CommandDescriptor"
import * as HelpDoc from "@effect/cli/HelpDoc"
import { assert, describe, it } from "@effect/vitest"
import { Option } from "effect"
import * as Cli from "../src/Cli.js"
import { render, stdoutStyle } from "../src/internal/help.js"

const tail = Option.getOrThrow(
  Option.fromNullable(
    [...CommandDescriptor.getSubcommands(Cli.command.descriptor)].find(([name]) => name === "tail")?.[1]
  )
)

const page = {
  name: "effect-kinesis",
  version: "1.2.3",
  usage: CommandDescriptor.getUsage(tail),
  doc: CommandDescriptor.getHelp(tail, CliConfig.defaultConfig)
}

const ESCAPE = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g")
const visible = (line: string) => line.replace(ESCAPE, "")

describe("help", () => {
  it("wraps to the width, with colour only when asked for", () => {
    for (const width of [40, 60, 100]) {
      const plain = render(page, CliConfig.defaultConfig, { width, color: false })
      assert.notInclude(plain, "\x1b")
      for (const line of plain.split("\n")) assert.isAtMost(line.length, width, line)
      assert.match(plain, /^effect-kinesis tail \[--region REGION\]/m)

      const colored = render(page, CliConfig.defaultConfig, { width, color: true })
      assert.include(colored, "\x1b[1mUSAGE\x1b[0m")
      for (const line of colored.split("\n")) assert.isAtMost(visible(line).length, width, line)
      assert.strictEqual(colored.split("\n").map(visible).join("\n"), plain)
    }
  })

  it("cuts a word longer than the line", () => {
    const word = "x".repeat(150)
    const text = render(
      { ...page, doc: HelpDoc.p(`a ${word} b`) },
      CliConfig.defaultConfig,
      { width: 60, color: false }
    )
    for (const line of text.split("\n")) assert.isAtMost(line.length, 60, line)
    assert.include(text.replace(/\n/g, ""), word)
  })

  it("stdout's style: the terminal's width and colour on a terminal; 80 and none in a pipe or with NO_COLOR", () => {
    const stdout = process.stdout
    const saved = { isTTY: stdout.isTTY, columns: stdout.columns, noColor: process.env.NO_COLOR }
    try {
      Object.assign(stdout, { isTTY: true, columns: 132 })
      delete process.env.NO_COLOR
      assert.deepStrictEqual(stdoutStyle(), { width: 132, color: true })
      process.env.NO_COLOR = "1"
      assert.deepStrictEqual(stdoutStyle(), { width: 132, color: false })
      delete process.env.NO_COLOR
      Object.assign(stdout, { isTTY: false })
      assert.deepStrictEqual(stdoutStyle(), { width: 80, color: false })
    } finally {
      Object.assign(stdout, { isTTY: saved.isTTY, columns: saved.columns })
      if (saved.noColor === undefined) delete process.env.NO_COLOR
      else process.env.NO_COLOR = saved.noColor
    }
  })
})
