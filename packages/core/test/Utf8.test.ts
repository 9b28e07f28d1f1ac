/**
 * `encodeUtf8`, the encoder behind `Processor.json` and `Processor.string`: the same bytes as
 * `TextEncoder` for every size and kind of text (short strings from Node's pool, mid-sized ones written
 * into a shared slab, long ones in a buffer of their own), and a result that stays intact while later
 * strings are written into the same slab or the next.
 */
import { assert, describe, it } from "@effect/vitest"
import { encodeUtf8 } from "../src/internal/processor/utf8.js"

const encoder = new TextEncoder()

describe("encodeUtf8", () => {
  it("writes TextEncoder's bytes, and earlier results are never overwritten", () => {
    const texts: Array<string> = []
    for (let i = 0; i < 3_000; i++) {
      const size = [10, 300, 700, 1_000, 2_000, 2_731, 3_000, 20_000][i % 8]!
      const unit = ["x", "é", "€", "😀", "a\uD800b"][i % 5]! // 1-, 2-, 3-, 4-byte characters, a lone surrogate
      texts.push(`${i}:` + unit.repeat(Math.ceil(size / unit.length)))
    }
    const results = texts.map(encodeUtf8)
    texts.forEach((text, i) => {
      const expected = encoder.encode(text)
      const actual = results[i]!
      assert.strictEqual(actual.length, expected.length, `length of text ${i}`)
      assert.isTrue(Buffer.from(actual).equals(Buffer.from(expected)), `bytes of text ${i}`)
    })
  })

  it("returns views that do not overlap", () => {
    const results = Array.from({ length: 500 }, (_, i) => encodeUtf8(String(i % 10).repeat(900)))
    const ranges = results
      .filter((r) => r.buffer === results[0]!.buffer)
      .map((r) => [r.byteOffset, r.byteOffset + r.byteLength] as const)
      .sort((a, b) => a[0] - b[0])
    assert.isAbove(ranges.length, 1, "several results share a slab")
    for (let i = 1; i < ranges.length; i++) assert.isAtMost(ranges[i - 1]![1], ranges[i]![0])
    results.forEach((r, i) => assert.isTrue(r.every((b) => b === 0x30 + (i % 10)), `result ${i} intact`))
  })
})
