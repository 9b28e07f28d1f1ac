/**
 * dynalite (a DynamoDB implementation on LevelDB, in memory) in this process, for demos and tests of
 * the DynamoDB checkpointer. It lacks UpdateTimeToLive and transactions.
 *
 * @since 0.1.0
 */
export * as LocalDynamoDb from "./LocalDynamoDb.js"

/**
 * Local Kinesis servers for demos and tests, as scoped Effects: kinesalite in-process (fast, the data
 * plane and split/merge) and kinesis-local (kinesis-mock) as a child process (slower, but with
 * StreamARN, ListShards pagination and ShardFilter, ChildShards, UpdateShardCount, ON_DEMAND and
 * per-record PutRecords failures). Both listen on 127.0.0.1 and stop when the scope closes.
 *
 * @since 0.1.0
 */
export * as LocalKinesis from "./LocalKinesis.js"

/**
 * A private `redis-server` child process on 127.0.0.1, without persistence, for demos and tests.
 *
 * @since 0.1.0
 */
export * as LocalRedis from "./LocalRedis.js"

/**
 * The error of a local server that could not start.
 *
 * @since 0.1.0
 */
export * as LocalServerError from "./LocalServerError.js"
