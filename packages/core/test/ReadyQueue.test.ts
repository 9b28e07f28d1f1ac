/**
 * The producer's per-lane queue (internal): order, slot reuse, and that it never holds on to what went
 * through it. The producer's own tests cover it in use (order under retries, flush, reshards).
 */
import { assert, describe, it } from "@effect/vitest"
import { ReadyQueue } from "../src/internal/producer/readyQueue.js"

/** What the producer's take loop does: clear `n` slots from the head, then advance. */
const take = <P>(queue: ReadyQueue<P>, n: number, keep = 2048): Array<P> => {
  const taken: Array<P> = []
  let i = queue.head
  for (; i < queue.end && taken.length < n; i++) {
    taken.push(queue.items[i]!)
    queue.items[i] = undefined
  }
  queue.advance(i, keep)
  return taken
}

describe("ReadyQueue", () => {
  it("is first in, first out, and reuses its array once emptied", () => {
    const queue = new ReadyQueue<number>()
    for (let i = 0; i < 500; i++) queue.push(i)
    const array = queue.items
    assert.deepStrictEqual(take(queue, 200), Array.from({ length: 200 }, (_, i) => i))
    assert.strictEqual(queue.size, 300)
    assert.deepStrictEqual(take(queue, 500), Array.from({ length: 300 }, (_, i) => 200 + i))
    assert.strictEqual(queue.size, 0)
    for (let i = 0; i < 500; i++) queue.push(1000 + i)
    assert.strictEqual(queue.items, array, "the emptied queue writes its slots again")
    assert.strictEqual(queue.items.length, 500, "and does not grow")
    assert.deepStrictEqual(queue.waiting(), Array.from({ length: 500 }, (_, i) => 1000 + i))
  })

  it("keeps no sent record: taken slots are cleared", () => {
    const queue = new ReadyQueue<{ readonly id: number }>()
    for (let i = 0; i < 10; i++) queue.push({ id: i })
    take(queue, 4)
    assert.deepStrictEqual(queue.items.slice(0, 4), [undefined, undefined, undefined, undefined])
    assert.deepStrictEqual(queue.waiting().map((r) => r.id), [4, 5, 6, 7, 8, 9])
  })

  it("shifts out a long cleared prefix, in order, while records keep coming", () => {
    const queue = new ReadyQueue<number>()
    let next = 0
    let expected = 0
    // never empty: the head only moves forward, so the array would grow with everything that went through
    for (let round = 0; round < 100; round++) {
      for (let i = 0; i < 500; i++) queue.push(next++)
      for (const x of take(queue, 450)) assert.strictEqual(x, expected++)
    }
    assert.isAtMost(queue.items.length, 1024 + 2 * 500 + 100 * 50, "bounded by what waits, not what went through")
    assert.strictEqual(queue.size, next - expected)
    assert.deepStrictEqual(queue.waiting(), Array.from({ length: queue.size }, (_, i) => expected + i))
  })

  it("lets go of an array grown past `keep` once emptied (a burst's backlog is not kept)", () => {
    const queue = new ReadyQueue<number>()
    for (let i = 0; i < 5000; i++) queue.push(i)
    take(queue, 5000, 2048)
    assert.strictEqual(queue.items.length, 0)
    for (let i = 0; i < 500; i++) queue.push(i)
    take(queue, 500, 2048)
    assert.strictEqual(queue.items.length, 500, "a request's worth is kept for reuse")
  })

  it("replace and clear set the contents", () => {
    const queue = new ReadyQueue<string>()
    queue.push("a")
    queue.push("b")
    take(queue, 1)
    queue.replace(["x", ...queue.waiting()])
    assert.deepStrictEqual(queue.waiting(), ["x", "b"])
    queue.clear()
    assert.strictEqual(queue.size, 0)
    assert.deepStrictEqual(queue.waiting(), [])
  })
})
