/**
 * The parent → child graph of a stream's shards, and which shards may be read now.
 *
 * After a split or a merge the parent shards close; their children receive the new records. To keep
 * per-key order, a child is read only after every parent still listed has been read to its end and
 * checkpointed (marked ended in the `Checkpointer`). A parent missing from the listing has aged out of
 * retention: nothing of it is left to read, so it does not block.
 *
 * Pure functions over `Kinesis.Shard`s as ListShards returns them.
 *
 * @example
 * ```ts
 * import { Topology } from "@effect-kinesis/core"
 *
 * declare const shards: ReadonlyArray<import("@effect-kinesis/core").Kinesis.Shard>
 * const topology = Topology.make(shards)
 * const ended = new Set(["shardId-000000000000"])
 * const now = Topology.readable(topology, (id) => ended.has(id))
 * ```
 *
 * @since 0.1.0
 */
import type * as Kinesis from "./Kinesis.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Topology {
  /** Every listed shard by id, in ListShards order. */
  readonly shards: ReadonlyMap<string, Kinesis.Shard>
  /** Listed children of each shard (a split has two, a merge one). */
  readonly children: ReadonlyMap<string, ReadonlyArray<string>>
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = (shards: Iterable<Kinesis.Shard>): Topology => {
  const byId = new Map<string, Kinesis.Shard>()
  for (const shard of shards) byId.set(shard.shardId, shard)
  const children = new Map<string, Array<string>>()
  for (const shard of byId.values()) {
    for (const parent of declaredParents(shard)) {
      const list = children.get(parent)
      if (list === undefined) children.set(parent, [shard.shardId])
      else list.push(shard.shardId)
    }
  }
  return { shards: byId, children }
}

/**
 * The parents a shard names (ParentShardId, AdjacentParentShardId), listed or not.
 *
 * @since 0.1.0
 * @category getters
 */
export const declaredParents = (shard: Kinesis.Shard): ReadonlyArray<string> =>
  shard.parentShardId === undefined
    ? (shard.adjacentParentShardId === undefined ? [] : [shard.adjacentParentShardId])
    : shard.adjacentParentShardId === undefined
    ? [shard.parentShardId]
    : [shard.parentShardId, shard.adjacentParentShardId]

/**
 * The shard's parents that are still listed (those that can block it).
 *
 * @since 0.1.0
 * @category getters
 */
export const parents = (self: Topology, shardId: string): ReadonlyArray<string> => {
  const shard = self.shards.get(shardId)
  return shard === undefined ? [] : declaredParents(shard).filter((id) => self.shards.has(id))
}

/**
 * @since 0.1.0
 * @category getters
 */
export const children = (self: Topology, shardId: string): ReadonlyArray<string> => self.children.get(shardId) ?? []

/**
 * A shard is closed once it has an ending sequence number (after a split or merge).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isClosed = (shard: Kinesis.Shard): boolean => shard.sequenceNumberRange.endingSequenceNumber !== undefined

/**
 * The listed parents of a shard that are not ended yet: the shard must wait for them.
 *
 * @since 0.1.0
 * @category getters
 */
export const blockedBy = (
  self: Topology,
  shardId: string,
  isEnded: (shardId: string) => boolean
): ReadonlyArray<string> => parents(self, shardId).filter((id) => !isEnded(id))

/**
 * Shards that may be read now: not ended, and every listed parent ended. Parents come before their
 * children (ListShards order, which lists a parent before its children).
 *
 * @since 0.1.0
 * @category getters
 */
export const readable = (
  self: Topology,
  isEnded: (shardId: string) => boolean
): ReadonlyArray<Kinesis.Shard> => {
  const out: Array<Kinesis.Shard> = []
  for (const shard of self.shards.values()) {
    if (isEnded(shard.shardId)) continue
    if (blockedBy(self, shard.shardId, isEnded).length === 0) out.push(shard)
  }
  return out
}

/**
 * Shards with no listed parent: where a fresh consumer starts.
 *
 * @since 0.1.0
 * @category getters
 */
export const roots = (self: Topology): ReadonlyArray<Kinesis.Shard> =>
  Array.from(self.shards.values()).filter((shard) => parents(self, shard.shardId).length === 0)

/**
 * The open shards (the stream's current hash-key space).
 *
 * @since 0.1.0
 * @category getters
 */
export const open = (self: Topology): ReadonlyArray<Kinesis.Shard> =>
  Array.from(self.shards.values()).filter((shard) => !isClosed(shard))
