// CommonJS callers: the packages are ESM only, and Node's require(esm) (20.19+, 22.12+) loads them.
const { ShardMap, StreamAddress } = require("@effect-kinesis/core")
const { Either } = require("effect")

const address = StreamAddress.make("orders")
if (!Either.isRight(address)) throw new Error("StreamAddress.make failed through require()")
if (typeof ShardMap.make !== "function") throw new Error("ShardMap.make missing through require()")
console.log("require.cjs: @effect-kinesis/core loaded with require()")
