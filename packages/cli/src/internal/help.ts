/**
 * `--help`, rendered here from @effect/cli's `HelpDoc` and `Usage` (its own rendering neither wraps
 * nor drops its escape codes in a pipe): wrapped to the terminal's width (80 columns when stdout is not
 * a terminal), coloured only on a terminal and not with `NO_COLOR`, and the usage lines start with the
 * program's name (`effect-kinesis tail …`).
 *
 * @internal
 */
import type * as CliConfig from "@effect/cli/CliConfig"
import type * as HelpDoc from "@effect/cli/HelpDoc"
import type * as Span from "@effect/cli/HelpDoc/Span"
import * as Usage from "@effect/cli/Usage"

/** @internal */
export interface Style {
  /** Columns a line may take. */
  readonly width: number
  /** ANSI styles (bold headers, grey placeholders). */
  readonly color: boolean
}

/** Narrower terminals still get this many columns (words would otherwise stand one per line). */
const MIN_WIDTH = 40
/** Columns when stdout is not a terminal (a pipe, a file). */
const PIPE_WIDTH = 80

/** The style for stdout: its width on a terminal, else 80; colour on a terminal unless `NO_COLOR` is set. @internal */
export const stdoutStyle = (): Style => {
  const tty = process.stdout.isTTY === true
  const columns = process.stdout.columns
  return {
    width: tty && typeof columns === "number" && columns > 0 ? Math.max(MIN_WIDTH, columns) : PIPE_WIDTH,
    color: tty && (process.env.NO_COLOR ?? "") === ""
  }
}

// ---------------------------------------------------------------------------------------------
// spans: runs of styled text, words, wrapping
// ---------------------------------------------------------------------------------------------

interface Run {
  readonly text: string
  /** SGR parameters, outermost first. */
  readonly codes: ReadonlyArray<number>
}

const BOLD = 1
const UNDERLINE = 4
const GREY = 90
const colorCodes: Record<string, number> = {
  Black: 30,
  Red: 31,
  Green: 32,
  Yellow: 33,
  Blue: 34,
  Magenta: 35,
  Cyan: 36,
  White: 37
}

const runs = (span: Span.Span, codes: ReadonlyArray<number> = []): Array<Run> => {
  switch (span._tag) {
    case "Text":
      return [{ text: span.value, codes }]
    case "URI":
      return [{ text: span.value, codes: [...codes, UNDERLINE] }]
    case "Strong":
      return runs(span.value, [...codes, BOLD])
    case "Weak":
      return runs(span.value, [...codes, GREY])
    case "Highlight":
      return runs(span.value, [...codes, colorCodes[span.color._tag] ?? BOLD])
    case "Sequence":
      return [...runs(span.left, codes), ...runs(span.right, codes)]
  }
}

/** A span's text without styles. @internal */
export const spanText = (span: Span.Span): string => runs(span).map((run) => run.text).join("")

/** A help document's text without styles or line structure (for one-line error messages). @internal */
export const docText = (doc: HelpDoc.HelpDoc): string => {
  switch (doc._tag) {
    case "Empty":
      return ""
    case "Header":
    case "Paragraph":
      return spanText(doc.value)
    case "DescriptionList":
      return doc.definitions.map(([term, body]) => `${spanText(term)} ${docText(body)}`).join(" ")
    case "Enumeration":
      return doc.elements.map(docText).join(" ")
    case "Sequence":
      return `${docText(doc.left)} ${docText(doc.right)}`
  }
}

const paint = (run: Run, style: Style): string =>
  style.color && run.codes.length > 0 && run.text.length > 0
    ? `\x1b[${run.codes.join(";")}m${run.text}\x1b[0m`
    : run.text

/** A word: the styled pieces between two spaces. */
type Word = ReadonlyArray<Run>

const wordLength = (word: Word): number => word.reduce((n, run) => n + run.text.length, 0)

const toWords = (all: ReadonlyArray<Run>): Array<Word> => {
  const words: Array<Word> = []
  let current: Array<Run> = []
  for (const run of all) {
    const parts = run.text.split(/\s+/)
    parts.forEach((part, i) => {
      if (i > 0 && current.length > 0) {
        words.push(current)
        current = []
      }
      if (part.length > 0) current.push({ text: part, codes: run.codes })
    })
  }
  if (current.length > 0) words.push(current)
  return words
}

/** Cuts a word longer than a line into line-sized words. */
const cut = (word: Word, size: number): Array<Word> => {
  const chars = word.flatMap((run) => [...run.text].map((c) => ({ text: c, codes: run.codes })))
  const out: Array<Word> = []
  for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size))
  return out
}

/**
 * Words filled into lines of at most `style.width` columns: the first line after `indent`, the next
 * ones after `indent + hang`.
 */
const fill = (words: ReadonlyArray<Word>, indent: number, hang: number, style: Style): Array<string> => {
  const lines: Array<string> = []
  let line: Array<Word> = []
  let used = 0
  const available = () => Math.max(1, style.width - indent - (lines.length > 0 ? hang : 0))
  const flush = () => {
    const pad = " ".repeat(indent + (lines.length > 0 ? hang : 0))
    lines.push(pad + line.map((word) => word.map((run) => paint(run, style)).join("")).join(" "))
    line = []
    used = 0
  }
  const queue = [...words]
  while (queue.length > 0) {
    const word = queue.shift()!
    const length = wordLength(word)
    const needed = used === 0 ? length : used + 1 + length
    if (needed <= available()) {
      line.push(word)
      used = needed
    } else if (used > 0) {
      flush()
      queue.unshift(word)
    } else {
      // longer than a whole line: cut it
      queue.unshift(...cut(word, available()))
    }
  }
  if (line.length > 0 || lines.length === 0) flush()
  return lines
}

const paragraph = (span: Span.Span, indent: number, style: Style): Array<string> =>
  fill(toWords(runs(span)), indent, 0, style)

// ---------------------------------------------------------------------------------------------
// documents
// ---------------------------------------------------------------------------------------------

/** @effect/cli's paragraph for a text option or argument: says nothing the placeholder does not. */
const NOISE = new Set(["A user-defined piece of text."])

/** How far a term's continuation lines are indented (its description is indented by 2). */
const TERM_HANG = 4

/** A sub-command in the root's help: its name and arguments, and its description. @internal */
export interface CommandSummary {
  /** `describe <STREAM>` */
  readonly synopsis: string
  readonly description: Span.Span
}

/** `COMMANDS` as a list of sub-commands (each its synopsis, then its description indented). */
const commandBlocks = (commands: ReadonlyArray<CommandSummary>, style: Style): Array<Array<string>> => [
  paragraph({ _tag: "Strong", value: { _tag: "Text", value: "COMMANDS" } }, 0, style),
  ...commands.map((command) => [
    ...fill(toWords(runs({ _tag: "Strong", value: { _tag: "Text", value: command.synopsis } })), 0, TERM_HANG, style),
    ...paragraph(command.description, 2, style)
  ])
]

/**
 * A document as blocks of lines (blocks are separated by a blank line). With `commands`, @effect/cli's
 * `COMMANDS` section (one paragraph per sub-command: its whole usage, padded, then its description) is
 * replaced by `commandBlocks`.
 */
const blocks = (
  doc: HelpDoc.HelpDoc,
  indent: number,
  style: Style,
  commands?: ReadonlyArray<CommandSummary> | undefined
): Array<Array<string>> => {
  switch (doc._tag) {
    case "Empty":
      return []
    case "Header":
      if (commands !== undefined && spanText(doc.value) === "COMMANDS") return commandBlocks(commands, style)
      return [paragraph({ _tag: "Strong", value: doc.value }, indent, style)]
    case "Paragraph":
      return NOISE.has(spanText(doc.value)) ? [] : [paragraph(doc.value, indent, style)]
    case "DescriptionList":
      // one block per term: the term, then its description indented, without blank lines inside
      return doc.definitions.map(([term, body]) => [
        ...fill(toWords(runs({ _tag: "Strong", value: term })), indent, TERM_HANG, style),
        ...blocks(body, indent + 2, style).flat()
      ])
    case "Enumeration":
      if (commands !== undefined) return []
      return [
        doc.elements.flatMap((element) =>
          blocks(element, indent + 4, style).flat().map((line, i) =>
            i === 0 ? `${" ".repeat(indent + 2)}- ${line.trimStart()}` : line
          )
        )
      ]
    case "Sequence":
      return [...blocks(doc.left, indent, style, commands), ...blocks(doc.right, indent, style, commands)]
  }
}

/**
 * Splits a usage line where a new option or argument starts (not inside `[...]`, `(...)` or `<...>`).
 *
 * @internal
 */
export const usageGroups = (text: string): Array<string> => {
  const groups: Array<string> = []
  let depth = 0
  let current = ""
  for (const c of text) {
    if (c === "[" || c === "(" || c === "<") depth++
    if (c === "]" || c === ")" || c === ">") depth = Math.max(0, depth - 1)
    if (c === " " && depth === 0) {
      if (current.length > 0) groups.push(current)
      current = ""
    } else {
      current += c
    }
  }
  if (current.length > 0) groups.push(current)
  return groups
}

/**
 * One usage line: `name …` wrapped between options (an option too long for a line is wrapped inside),
 * continuation lines indented by 4.
 */
const usageLine = (text: string, style: Style): Array<string> => {
  const HANG = 4
  const words: Array<Word> = usageGroups(text).flatMap((group) =>
    group.length <= style.width - HANG
      ? [[{ text: group, codes: [] }]]
      : group.split(" ").filter((part) => part.length > 0).map((part) => [{ text: part, codes: [] }])
  )
  return fill(words, 0, HANG, style)
}

/** @internal */
export interface HelpPage {
  /** The program's name, e.g. `effect-kinesis`. */
  readonly name: string
  readonly version: string
  readonly usage: Usage.Usage
  readonly doc: HelpDoc.HelpDoc
  /** The sub-commands, for the root's help and a group's (its usage ends with `COMMAND …`). */
  readonly commands?: ReadonlyArray<CommandSummary> | undefined
  /** The group of the command, for a command inside one (`consumers` of `consumers list`). */
  readonly parent?: string | undefined
}

/** The text of `--help` (ends with a newline). @internal */
export const render = (page: HelpPage, config: CliConfig.CliConfig, style: Style): string => {
  const usages = Usage.enumerate(page.usage, config).map((span) => {
    const text = spanText(span).replace(/\s+/g, " ").trim()
    // a sub-command's usage starts with its own name: the program's name (and the group's) goes first
    const prefix = page.parent === undefined ? page.name : `${page.name} ${page.parent}`
    const named = text === page.name || text.startsWith(`${page.name} `) ? text : `${prefix} ${text}`
    return page.commands === undefined ? named : `${named} COMMAND [ARGUMENTS] [OPTIONS]`
  })
  const all: Array<Array<string>> = [
    paragraph({ _tag: "Text", value: `${page.name} ${page.version}` }, 0, style),
    paragraph({ _tag: "Strong", value: { _tag: "Text", value: "USAGE" } }, 0, style),
    usages.flatMap((usage) => usageLine(usage, style)),
    ...blocks(page.doc, 0, style, page.commands)
  ]
  return all.filter((block) => block.length > 0).map((block) => block.join("\n")).join("\n\n") + "\n"
}
