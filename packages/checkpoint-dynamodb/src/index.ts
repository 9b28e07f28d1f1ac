/**
 * A `Checkpointer` over DynamoDB: shard leases, checkpoints, shard-ended marks and worker heartbeats
 * of any number of consumer groups and streams in one table.
 *
 * @since 0.1.0
 */
export * as DynamoDbCheckpointer from "./DynamoDbCheckpointer.js"
