/** @internal */

/**
 * mulberry32: a small, fast, deterministic PRNG (32-bit state). Every random choice of the engine
 * (throttling a fraction of records) draws from one of these, seeded from the layer's `seed`, so a
 * run is reproducible. Returns floats in [0, 1).
 *
 * @internal
 */
export const mulberry32 = (seed: number): () => number => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
