/**
 * The command line, read before @effect/cli runs the command: an argument error (unknown option or
 * command, bad value, missing argument) becomes the CLI's one usage line, and `--help` / `--version`
 * are printed here (see help.ts); anything else is left to @effect/cli's `CliApp`.
 *
 * @internal
 */
import * as AutoCorrect from "@effect/cli/AutoCorrect"
import * as CliConfig from "@effect/cli/CliConfig"
import * as CommandDescriptor from "@effect/cli/CommandDescriptor"
import type * as HelpDoc from "@effect/cli/HelpDoc"
import type * as Span from "@effect/cli/HelpDoc/Span"
import * as Usage from "@effect/cli/Usage"
import type * as ValidationError from "@effect/cli/ValidationError"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import type * as Terminal from "@effect/platform/Terminal"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import { type CommandSummary, docText, type HelpPage, spanText, usageGroups } from "./help.js"

/** The parser's configuration (@effect/cli's defaults), for parsing and for the help. @internal */
export const config: CliConfig.CliConfig = CliConfig.defaultConfig

/** @effect/cli's own options, which every command takes. */
const builtIns = ["--help", "-h", "--version", "--wizard", "--completions", "--log-level"]

/** What the command line asks for, as far as this module handles it. @internal */
export type Reading =
  | { readonly _tag: "Run" }
  | { readonly _tag: "Help"; readonly page: HelpPage }
  | { readonly _tag: "Version" }
  | { readonly _tag: "UsageError"; readonly message: string }

/** The sub-command named on the command line (the first argument that is one), for the usage hint. @internal */
export const subcommandOf = <A>(
  root: CommandDescriptor.Command<A>,
  args: ReadonlyArray<string>
): string | undefined => {
  const subcommands = CommandDescriptor.getSubcommands(root)
  return args.find((arg) => HashMap.has(subcommands, arg))
}

/** A sub-command with sub-commands of its own (`consumers` of `consumers list`). @internal */
export interface Group {
  /** The group's descriptor (with its sub-commands). */
  readonly descriptor: CommandDescriptor.Command<unknown>
  /** Its sub-commands, in the order the help lists them. */
  readonly subcommands: ReadonlyArray<string>
}

/** The groups of a program, by name. @internal */
export type Groups = Readonly<Record<string, Group>>

/**
 * The (sub-)command named on the command line: `["tail"]`, `["consumers", "list"]`, `["consumers"]`
 * without a valid sub-command of the group, `[]` without a command.
 *
 * @internal
 */
export const commandPath = <A>(
  root: CommandDescriptor.Command<A>,
  groups: Groups,
  args: ReadonlyArray<string>
): ReadonlyArray<string> => {
  const first = subcommandOf(root, args)
  if (first === undefined) return []
  const group = Object.hasOwn(groups, first) ? groups[first] : undefined
  if (group === undefined) return [first]
  const second = subcommandOf(group.descriptor, args.slice(args.indexOf(first) + 1))
  return second === undefined ? [first] : [first, second]
}

/** The command line's (sub-)command, for the usage hint: `tail`, `consumers list`. @internal */
export const commandOf = <A>(
  root: CommandDescriptor.Command<A>,
  groups: Groups,
  args: ReadonlyArray<string>
): string | undefined => {
  const path = commandPath(root, groups, args)
  return path.length === 0 ? undefined : path.join(" ")
}

/** The options (`--region`, ...) in a usage, with their choices (`raw | json | pretty`) if any. */
const optionsOf = (usage: Usage.Usage): Array<{ readonly name: string; readonly choices: ReadonlyArray<string> }> => {
  switch (usage._tag) {
    case "Named": {
      const choices = Option.match(usage.acceptedValues, {
        onNone: (): ReadonlyArray<string> => [],
        onSome: (values) => values.split("|").map((value) => value.trim())
      })
      return usage.names.filter((name) => name.startsWith("-")).map((name) => ({ name, choices }))
    }
    case "Optional":
    case "Repeated":
      return optionsOf(usage.usage)
    case "Alternation":
    case "Concat":
      return [...optionsOf(usage.left), ...optionsOf(usage.right)]
    case "Empty":
    case "Mixed":
      return []
  }
}

/** The options of the (sub-)command on the command line (none without one). */
const subcommandOptions = <A>(root: CommandDescriptor.Command<A>, groups: Groups, args: ReadonlyArray<string>) => {
  const [first, second] = commandPath(root, groups, args)
  if (first === undefined) return []
  const parent: CommandDescriptor.Command<unknown> = second === undefined ? root : groups[first]!.descriptor
  return Option.match(HashMap.get(CommandDescriptor.getSubcommands(parent), second ?? first), {
    onNone: () => [],
    onSome: (descriptor) => optionsOf(CommandDescriptor.getUsage(descriptor))
  })
}

/** The first paragraph after a `DESCRIPTION` header. */
const descriptionOf = (doc: HelpDoc.HelpDoc): Span.Span | undefined => {
  const flat: Array<HelpDoc.HelpDoc> = []
  const walk = (d: HelpDoc.HelpDoc): void => {
    if (d._tag === "Sequence") {
      walk(d.left)
      walk(d.right)
    } else {
      flat.push(d)
    }
  }
  walk(doc)
  const at = flat.findIndex((d) => d._tag === "Header" && spanText(d.value) === "DESCRIPTION")
  const next = at < 0 ? undefined : flat[at + 1]
  return next?._tag === "Paragraph" ? next.value : undefined
}

/** The sub-commands for the root's help: name and arguments (not the options), and description. */
const commandSummaries = <A>(
  root: CommandDescriptor.Command<A>,
  names: ReadonlyArray<string>,
  groups: Groups
): Array<CommandSummary> => {
  const subcommands = CommandDescriptor.getSubcommands(root)
  return names.flatMap((name) =>
    Option.match(HashMap.get(subcommands, name), {
      onNone: () => [],
      onSome: (descriptor) => {
        const usage = docText(Usage.getHelp(CommandDescriptor.getUsage(descriptor)))
        // a group: its sub-commands (`consumers list|register|deregister`)
        const synopsis = Object.hasOwn(groups, name)
          ? `${name} ${groups[name]!.subcommands.join("|")}`
          : usageGroups(usage.replace(/\s+/g, " ").trim()).filter((group) => !group.startsWith("[")).join(" ")
        return [{
          synopsis,
          description: descriptionOf(CommandDescriptor.getHelp(descriptor, config)) ?? { _tag: "Text", value: "" }
        }]
      }
    })
  )
}

/** `--log-level`'s values (@effect/cli's). */
const logLevels = ["all", "trace", "debug", "info", "warning", "error", "fatal", "none"]

/** A `--log-level` without a valid value (@effect/cli would call it an unknown argument). */
const logLevelError = (args: ReadonlyArray<string>): string | undefined => {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    const value = arg === "--log-level" ? args[i + 1] : arg.startsWith("--log-level=") ? arg.slice(12) : null
    if (value === null) continue
    if (value === undefined) return "--log-level needs a value: one of " + logLevels.join(", ")
    if (!logLevels.includes(value.toLowerCase())) {
      return `--log-level: '${value}' is not one of ${logLevels.join(", ")}`
    }
  }
  return undefined
}

/** `--log-level debug` and `--log-level=debug` taken out, as @effect/cli does before it parses again. */
const withoutLogLevel = (args: ReadonlyArray<string>): Array<string> =>
  args.filter((arg, i) => !(arg === "--log-level" || arg.startsWith("--log-level=") || args[i - 1] === "--log-level"))

/**
 * The arguments with `--log-level LEVEL` moved to right after the (sub-)command named in `path`:
 * @effect/cli finds it only before the command's options that take a value (`streams --endpoint URL
 * --log-level info` would be an unknown argument).
 *
 * @internal
 */
export const withLogLevelFirst = (args: ReadonlyArray<string>, path: ReadonlyArray<string>): Array<string> => {
  const levels = args.filter((arg, i) =>
    arg === "--log-level" || arg.startsWith("--log-level=") || args[i - 1] === "--log-level"
  )
  if (levels.length === 0 || path.length === 0) return [...args]
  const rest = withoutLogLevel(args)
  let at = -1
  for (const name of path) {
    const found = rest.indexOf(name, at + 1)
    if (found < 0) return [...args]
    at = found
  }
  return [...rest.slice(0, at + 1), ...levels, ...rest.slice(at + 1)]
}

const quote = (arg: string): string => `'${arg}'`

/** The message of an argument @effect/cli did not consume. */
const leftoverMessage = (head: string, next: string | undefined, known: ReadonlyArray<string>): string => {
  if (!head.startsWith("-")) return `unexpected argument ${quote(head)}`
  const name = head.split("=")[0]!
  if (known.includes(name)) {
    // a known option left over: its value is missing or was refused
    return next === undefined || next.startsWith("-")
      ? `${name} needs a value`
      : `${name}: invalid value ${quote(next)}`
  }
  const closest = known
    .map((option) => [option, AutoCorrect.levensteinDistance(name, option, config)] as const)
    .filter(([, distance]) => distance <= config.autoCorrectLimit)
    .sort(([, a], [, b]) => a - b)[0]
  return `unknown option ${quote(name)}` + (closest === undefined ? "" : ` (did you mean ${closest[0]}?)`)
}

/** The message of a parse error, in the CLI's words where @effect/cli's are unclear. */
const errorMessage = <A>(
  root: CommandDescriptor.Command<A>,
  subcommandNames: ReadonlyArray<string>,
  groups: Groups,
  error: ValidationError.ValidationError,
  args: ReadonlyArray<string>
): string => {
  const text = docText(error.error).replace(/\s+/g, " ").trim()
  if (error._tag === "CommandMismatch") {
    const [group] = commandPath(root, groups, args)
    if (group !== undefined && Object.hasOwn(groups, group)) {
      // `consumers foo`: a group without one of its sub-commands
      const commands = groups[group]!.subcommands.join(", ")
      const next = args[args.indexOf(group) + 1] ?? ""
      return next.startsWith("-")
        ? `unknown option ${quote(next)} before the ${group} command (the ${group} commands: ${commands})`
        : `unknown command ${quote(`${group} ${next}`)} (the ${group} commands: ${commands})`
    }
    const commands = subcommandNames.join(", ")
    const first = args[0] ?? ""
    return first.startsWith("-")
      ? `unknown option ${quote(first)} before the command (the commands: ${commands})`
      : `unknown command ${quote(first)} (the commands: ${commands})`
  }
  const notA = /^'(.*)' is not an? (.+)$/.exec(text)
  if (notA !== null) {
    // which option was given the value: the argument before it
    const at = args.indexOf(notA[1]!)
    const option = at > 0 && args[at - 1]!.startsWith("-") ? `${args[at - 1]}: ` : ""
    const kind = notA[2]!
    return `${option}${quote(notA[1]!)} is not ${/^[aeiou]/i.test(kind) ? "an" : "a"} ${kind}`
  }
  const cases = /^Expected one of the following cases: (.+)$/.exec(text)
  if (cases !== null) {
    // the option with these choices, and the value it was given
    const choices = cases[1]!.split(",").map((choice) => choice.trim())
    const option = subcommandOptions(root, groups, args).find((o) =>
      o.choices.length === choices.length && o.choices.every((choice) => choices.includes(choice))
    )
    const at = option === undefined ? -1 : args.indexOf(option.name)
    const value = at < 0 ? undefined : args[at + 1]
    if (option !== undefined && value !== undefined) {
      return `${option.name}: ${quote(value)} is not one of ${choices.join(", ")}`
    }
    return `expected one of ${choices.join(", ")}`
  }
  const missing = /^Missing argument <(.+)>$/.exec(text)
  if (missing !== null) return `missing argument ${missing[1]}`
  const corrected = /^The flag '(.+)' is not recognized\. Did you mean '(.+)'\?$/.exec(text)
  if (corrected !== null) return `unknown option ${quote(corrected[1]!)} (did you mean ${corrected[2]}?)`
  const missingOption = /^Expected to find option: '(.+)'$/.exec(text)
  if (missingOption !== null) return `missing option ${missingOption[1]}`
  return text
}

/**
 * Parses the command line (`args`: without the runtime and the script) the way `CliApp` will, and says
 * what to do: run it, print the help or the version, or report a usage error.
 *
 * @internal
 */
export const read = <A>(
  root: CommandDescriptor.Command<A>,
  program: {
    readonly name: string
    readonly version: string
    /** The sub-commands, in the order the help lists them. */
    readonly subcommands: ReadonlyArray<string>
    /** The sub-commands that have sub-commands of their own. */
    readonly groups?: Groups | undefined
  },
  args: ReadonlyArray<string>
): Effect.Effect<Reading, never, FileSystem.FileSystem | Path.Path | Terminal.Terminal> => {
  const { name, subcommands, version } = program
  const groups = program.groups ?? {}
  const logLevel = logLevelError(args)
  if (logLevel !== undefined) return Effect.succeed({ _tag: "UsageError", message: logLevel })
  const parsedArgs = withoutLogLevel(args)
  return CommandDescriptor.parse(root, [name, ...parsedArgs], config).pipe(
    Effect.map((directive): Reading => {
      if (directive._tag === "BuiltIn") {
        const option = directive.option
        switch (option._tag) {
          case "ShowHelp": {
            const path = commandPath(root, groups, parsedArgs)
            const group = path.length === 1 && Object.hasOwn(groups, path[0]!) ? groups[path[0]!] : undefined
            return {
              _tag: "Help",
              page: {
                name,
                version,
                usage: option.usage,
                doc: option.helpDoc,
                commands: path.length === 0
                  ? commandSummaries(root, subcommands, groups)
                  : group !== undefined
                  ? commandSummaries(group.descriptor, group.subcommands, {})
                  : undefined,
                parent: path.length === 2 ? path[0] : undefined
              }
            }
          }
          case "ShowVersion":
            return { _tag: "Version" }
          default:
            return { _tag: "Run" }
        }
      }
      const [head, next] = directive.leftover
      if (head === undefined) return { _tag: "Run" }
      const known = [...subcommandOptions(root, groups, parsedArgs).map((option) => option.name), ...builtIns]
      return { _tag: "UsageError", message: leftoverMessage(head, next, known) }
    }),
    Effect.catchAll((error) =>
      Effect.succeed<Reading>({
        _tag: "UsageError",
        message: errorMessage(root, subcommands, groups, error, parsedArgs)
      })
    ),
    // `--help` after options the parser stumbled on (`consumers list --stream s --help`): the command's help
    Effect.flatMap((reading) => {
      if (reading._tag !== "UsageError" || !parsedArgs.some((arg) => arg === "--help" || arg === "-h")) {
        return Effect.succeed(reading)
      }
      const helpArgs = [...commandPath(root, groups, parsedArgs), "--help"]
      if (helpArgs.join(" ") === parsedArgs.join(" ")) return Effect.succeed(reading)
      return read(root, program, helpArgs).pipe(
        Effect.map((help) => help._tag === "Help" ? help : reading)
      )
    })
  )
}
