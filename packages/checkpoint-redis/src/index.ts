/**
 * A `Checkpointer` over Redis: shard leases, checkpoints, hand-off requests and worker heartbeats of
 * one consumer group, shared by every worker of the group through one Redis server.
 *
 * @since 0.1.0
 */
export * as RedisCheckpointer from "./RedisCheckpointer.js"
