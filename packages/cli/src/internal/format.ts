/**
 * Output: stdout for results, stderr for progress and diagnostics, and the text layouts (tables,
 * shard trees, durations) the commands share.
 *
 * @internal
 */
import type * as Kinesis from "@effect-kinesis/core/Kinesis"
import * as Topology from "@effect-kinesis/core/Topology"
import * as Effect from "effect/Effect"

/** Writes to stdout (synchronous for files, pipes and terminals on Linux). @internal */
export const out = (text: string): Effect.Effect<void> =>
  Effect.sync(() => {
    process.stdout.write(text)
  })

/** Writes a line to stdout. @internal */
export const outLine = (text: string): Effect.Effect<void> => out(`${text}\n`)

/** Writes a line to stderr. @internal */
export const errLine = (text: string): Effect.Effect<void> =>
  Effect.sync(() => {
    process.stderr.write(`${text}\n`)
  })

/** @internal */
export const stdoutIsTty = (): boolean => process.stdout.isTTY === true

/** @internal */
export const stderrIsTty = (): boolean => process.stderr.isTTY === true

/** `12,345` @internal */
export const count = (n: number): string => n.toLocaleString("en-US")

/** `850 ms`, `12.3 s`, `5 min 3 s`, `2 h 5 min`, `3 d 4 h` @internal */
export const duration = (millis: number): string => {
  const ms = Math.max(0, Math.round(millis))
  if (ms < 1_000) return `${ms} ms`
  if (ms < 60_000) return `${(ms / 1_000).toFixed(ms < 10_000 ? 2 : 1)} s`
  const s = Math.floor(ms / 1_000)
  if (s < 3_600) return `${Math.floor(s / 60)} min ${s % 60} s`
  if (s < 86_400) return `${Math.floor(s / 3_600)} h ${Math.floor((s % 3_600) / 60)} min`
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3_600)} h`
}

/** `1.25 MiB` @internal */
export const bytes = (n: number): string =>
  n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(2)} MiB`

/** Columns aligned with two spaces; the last column is not padded. @internal */
export const table = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const all = [headers, ...rows]
  const widths = headers.map((_, i) => Math.max(...all.map((row) => [...(row[i] ?? "")].length)))
  return all
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]! + cell.length - [...cell].length)))
        .join("  ")
        .trimEnd()
    )
    .join("\n")
}

const HASH_SPACE = 2n ** 128n

/** The share of the hash-key space a shard covers, e.g. `50.0%`. @internal */
export const hashShare = (range: Kinesis.HashKeyRange): string => {
  const width = BigInt(range.endingHashKey) - BigInt(range.startingHashKey) + 1n
  return `${(Number((width * 100_000n) / HASH_SPACE) / 1_000).toFixed(1)}%`
}

/** One line of a shard tree: the shard (or a reference to a merge child shown elsewhere). @internal */
export interface TreeLine {
  /** `├─ `, `│  └─ `, ... */
  readonly prefix: string
  readonly shardId: string
  /** A merge child already shown under its other parent. */
  readonly reference: boolean
}

/**
 * The shards as a parent → children tree: roots (no listed parent) first, in ListShards order; a merge
 * child is expanded under its first listed parent and referenced under the other.
 *
 * @internal
 */
export const tree = (topology: Topology.Topology): ReadonlyArray<TreeLine> => {
  const lines: Array<TreeLine> = []
  const shown = new Set<string>()
  const visit = (shardId: string, prefix: string, childPrefix: string) => {
    if (shown.has(shardId)) {
      lines.push({ prefix, shardId, reference: true })
      return
    }
    shown.add(shardId)
    lines.push({ prefix, shardId, reference: false })
    const children = Topology.children(topology, shardId)
    children.forEach((child, i) => {
      const last = i === children.length - 1
      visit(child, childPrefix + (last ? "└─ " : "├─ "), childPrefix + (last ? "   " : "│  "))
    })
  }
  for (const root of Topology.roots(topology)) visit(root.shardId, "", "")
  // shards in a cycle or otherwise unreachable (should not happen): listed flat
  for (const shardId of topology.shards.keys()) if (!shown.has(shardId)) visit(shardId, "", "")
  return lines
}

/** A date as ISO 8601 (UTC). @internal */
export const iso = (date: Date | number): string => new Date(date).toISOString()
