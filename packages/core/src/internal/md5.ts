/**
 * MD5 (RFC 1321) of a short ASCII string, in JavaScript: the hash Kinesis routes a partition key by.
 *
 * A partition key is hashed once per record on the producer's hot path. Node's one-shot
 * `crypto.hash("md5", key, "hex")` crosses into C++ and back and returns hex that must then become a
 * number (`BigInt`): ~0.7 µs per key here. Most keys are short ASCII (ids, UUIDs), which fit MD5's single
 * 64-byte block (≤ 55 bytes with the padding), and one block of MD5 in JavaScript is ~0.1 µs with no
 * allocation (two blocks, ~0.2 µs, up to 119 characters). Non-ASCII keys are left to the caller's
 * fallback (`node:crypto`).
 *
 * @internal
 */

/** Keys longer than this go to `node:crypto` (a partition key has at most 256 characters). */
export const MAX_LENGTH = 256

const block = new Int32Array(16)
const state = new Int32Array(4)

/**
 * The digest of `s` as four little-endian words (digest bytes 0–3 are word 0's low to high bytes), or
 * `undefined` when `s` is longer than 256 characters or not ASCII. Writes into `out` and returns it.
 */
export const md5Ascii = (s: string, out: Int32Array): Int32Array | undefined => {
  const n = s.length
  if (n > MAX_LENGTH) return undefined
  state[0] = 0x67452301
  state[1] = 0xefcdab89 | 0
  state[2] = 0x98badcfe | 0
  state[3] = 0x10325476
  const m = block
  // the message, then 0x80, zeros, and the length in bits in the last 8 bytes of the last block
  const blocks = (n + 8 >> 6) + 1
  for (let k = 0, base = 0; k < blocks; k++, base += 64) {
    m.fill(0)
    const to = Math.min(n, base + 64)
    for (let i = base; i < to; i++) {
      const c = s.charCodeAt(i)
      if (c > 0x7f) return undefined
      m[(i - base) >> 2] |= c << ((i & 3) << 3)
    }
    if (n >= base && n < base + 64) m[(n - base) >> 2] |= 0x80 << ((n & 3) << 3)
    if (k === blocks - 1) m[14] = n << 3
    compress(m)
  }
  out[0] = state[0]!
  out[1] = state[1]!
  out[2] = state[2]!
  out[3] = state[3]!
  return out
}

/** One 64-byte block into `state`. */
const compress = (m: Int32Array): void => {
  let a = state[0]!
  let b = state[1]!
  let c = state[2]!
  let d = state[3]!

  let t: number
  // round 1: F
  t = (a + ((b & c) | (~b & d)) + m[0]! + (0xd76aa478 | 0)) | 0
  a = (((t << 7) | (t >>> 25)) + b) | 0
  t = (d + ((a & b) | (~a & c)) + m[1]! + (0xe8c7b756 | 0)) | 0
  d = (((t << 12) | (t >>> 20)) + a) | 0
  t = (c + ((d & a) | (~d & b)) + m[2]! + 0x242070db) | 0
  c = (((t << 17) | (t >>> 15)) + d) | 0
  t = (b + ((c & d) | (~c & a)) + m[3]! + (0xc1bdceee | 0)) | 0
  b = (((t << 22) | (t >>> 10)) + c) | 0
  t = (a + ((b & c) | (~b & d)) + m[4]! + (0xf57c0faf | 0)) | 0
  a = (((t << 7) | (t >>> 25)) + b) | 0
  t = (d + ((a & b) | (~a & c)) + m[5]! + 0x4787c62a) | 0
  d = (((t << 12) | (t >>> 20)) + a) | 0
  t = (c + ((d & a) | (~d & b)) + m[6]! + (0xa8304613 | 0)) | 0
  c = (((t << 17) | (t >>> 15)) + d) | 0
  t = (b + ((c & d) | (~c & a)) + m[7]! + (0xfd469501 | 0)) | 0
  b = (((t << 22) | (t >>> 10)) + c) | 0
  t = (a + ((b & c) | (~b & d)) + m[8]! + 0x698098d8) | 0
  a = (((t << 7) | (t >>> 25)) + b) | 0
  t = (d + ((a & b) | (~a & c)) + m[9]! + (0x8b44f7af | 0)) | 0
  d = (((t << 12) | (t >>> 20)) + a) | 0
  t = (c + ((d & a) | (~d & b)) + m[10]! + (0xffff5bb1 | 0)) | 0
  c = (((t << 17) | (t >>> 15)) + d) | 0
  t = (b + ((c & d) | (~c & a)) + m[11]! + (0x895cd7be | 0)) | 0
  b = (((t << 22) | (t >>> 10)) + c) | 0
  t = (a + ((b & c) | (~b & d)) + m[12]! + 0x6b901122) | 0
  a = (((t << 7) | (t >>> 25)) + b) | 0
  t = (d + ((a & b) | (~a & c)) + m[13]! + (0xfd987193 | 0)) | 0
  d = (((t << 12) | (t >>> 20)) + a) | 0
  t = (c + ((d & a) | (~d & b)) + m[14]! + (0xa679438e | 0)) | 0
  c = (((t << 17) | (t >>> 15)) + d) | 0
  t = (b + ((c & d) | (~c & a)) + m[15]! + 0x49b40821) | 0
  b = (((t << 22) | (t >>> 10)) + c) | 0
  // round 2: G
  t = (a + ((b & d) | (c & ~d)) + m[1]! + (0xf61e2562 | 0)) | 0
  a = (((t << 5) | (t >>> 27)) + b) | 0
  t = (d + ((a & c) | (b & ~c)) + m[6]! + (0xc040b340 | 0)) | 0
  d = (((t << 9) | (t >>> 23)) + a) | 0
  t = (c + ((d & b) | (a & ~b)) + m[11]! + 0x265e5a51) | 0
  c = (((t << 14) | (t >>> 18)) + d) | 0
  t = (b + ((c & a) | (d & ~a)) + m[0]! + (0xe9b6c7aa | 0)) | 0
  b = (((t << 20) | (t >>> 12)) + c) | 0
  t = (a + ((b & d) | (c & ~d)) + m[5]! + (0xd62f105d | 0)) | 0
  a = (((t << 5) | (t >>> 27)) + b) | 0
  t = (d + ((a & c) | (b & ~c)) + m[10]! + 0x02441453) | 0
  d = (((t << 9) | (t >>> 23)) + a) | 0
  t = (c + ((d & b) | (a & ~b)) + m[15]! + (0xd8a1e681 | 0)) | 0
  c = (((t << 14) | (t >>> 18)) + d) | 0
  t = (b + ((c & a) | (d & ~a)) + m[4]! + (0xe7d3fbc8 | 0)) | 0
  b = (((t << 20) | (t >>> 12)) + c) | 0
  t = (a + ((b & d) | (c & ~d)) + m[9]! + 0x21e1cde6) | 0
  a = (((t << 5) | (t >>> 27)) + b) | 0
  t = (d + ((a & c) | (b & ~c)) + m[14]! + (0xc33707d6 | 0)) | 0
  d = (((t << 9) | (t >>> 23)) + a) | 0
  t = (c + ((d & b) | (a & ~b)) + m[3]! + (0xf4d50d87 | 0)) | 0
  c = (((t << 14) | (t >>> 18)) + d) | 0
  t = (b + ((c & a) | (d & ~a)) + m[8]! + 0x455a14ed) | 0
  b = (((t << 20) | (t >>> 12)) + c) | 0
  t = (a + ((b & d) | (c & ~d)) + m[13]! + (0xa9e3e905 | 0)) | 0
  a = (((t << 5) | (t >>> 27)) + b) | 0
  t = (d + ((a & c) | (b & ~c)) + m[2]! + (0xfcefa3f8 | 0)) | 0
  d = (((t << 9) | (t >>> 23)) + a) | 0
  t = (c + ((d & b) | (a & ~b)) + m[7]! + 0x676f02d9) | 0
  c = (((t << 14) | (t >>> 18)) + d) | 0
  t = (b + ((c & a) | (d & ~a)) + m[12]! + (0x8d2a4c8a | 0)) | 0
  b = (((t << 20) | (t >>> 12)) + c) | 0
  // round 3: H
  t = (a + (b ^ c ^ d) + m[5]! + (0xfffa3942 | 0)) | 0
  a = (((t << 4) | (t >>> 28)) + b) | 0
  t = (d + (a ^ b ^ c) + m[8]! + (0x8771f681 | 0)) | 0
  d = (((t << 11) | (t >>> 21)) + a) | 0
  t = (c + (d ^ a ^ b) + m[11]! + 0x6d9d6122) | 0
  c = (((t << 16) | (t >>> 16)) + d) | 0
  t = (b + (c ^ d ^ a) + m[14]! + (0xfde5380c | 0)) | 0
  b = (((t << 23) | (t >>> 9)) + c) | 0
  t = (a + (b ^ c ^ d) + m[1]! + (0xa4beea44 | 0)) | 0
  a = (((t << 4) | (t >>> 28)) + b) | 0
  t = (d + (a ^ b ^ c) + m[4]! + 0x4bdecfa9) | 0
  d = (((t << 11) | (t >>> 21)) + a) | 0
  t = (c + (d ^ a ^ b) + m[7]! + (0xf6bb4b60 | 0)) | 0
  c = (((t << 16) | (t >>> 16)) + d) | 0
  t = (b + (c ^ d ^ a) + m[10]! + (0xbebfbc70 | 0)) | 0
  b = (((t << 23) | (t >>> 9)) + c) | 0
  t = (a + (b ^ c ^ d) + m[13]! + 0x289b7ec6) | 0
  a = (((t << 4) | (t >>> 28)) + b) | 0
  t = (d + (a ^ b ^ c) + m[0]! + (0xeaa127fa | 0)) | 0
  d = (((t << 11) | (t >>> 21)) + a) | 0
  t = (c + (d ^ a ^ b) + m[3]! + (0xd4ef3085 | 0)) | 0
  c = (((t << 16) | (t >>> 16)) + d) | 0
  t = (b + (c ^ d ^ a) + m[6]! + 0x04881d05) | 0
  b = (((t << 23) | (t >>> 9)) + c) | 0
  t = (a + (b ^ c ^ d) + m[9]! + (0xd9d4d039 | 0)) | 0
  a = (((t << 4) | (t >>> 28)) + b) | 0
  t = (d + (a ^ b ^ c) + m[12]! + (0xe6db99e5 | 0)) | 0
  d = (((t << 11) | (t >>> 21)) + a) | 0
  t = (c + (d ^ a ^ b) + m[15]! + 0x1fa27cf8) | 0
  c = (((t << 16) | (t >>> 16)) + d) | 0
  t = (b + (c ^ d ^ a) + m[2]! + (0xc4ac5665 | 0)) | 0
  b = (((t << 23) | (t >>> 9)) + c) | 0
  // round 4: I
  t = (a + (c ^ (b | ~d)) + m[0]! + (0xf4292244 | 0)) | 0
  a = (((t << 6) | (t >>> 26)) + b) | 0
  t = (d + (b ^ (a | ~c)) + m[7]! + 0x432aff97) | 0
  d = (((t << 10) | (t >>> 22)) + a) | 0
  t = (c + (a ^ (d | ~b)) + m[14]! + (0xab9423a7 | 0)) | 0
  c = (((t << 15) | (t >>> 17)) + d) | 0
  t = (b + (d ^ (c | ~a)) + m[5]! + (0xfc93a039 | 0)) | 0
  b = (((t << 21) | (t >>> 11)) + c) | 0
  t = (a + (c ^ (b | ~d)) + m[12]! + 0x655b59c3) | 0
  a = (((t << 6) | (t >>> 26)) + b) | 0
  t = (d + (b ^ (a | ~c)) + m[3]! + (0x8f0ccc92 | 0)) | 0
  d = (((t << 10) | (t >>> 22)) + a) | 0
  t = (c + (a ^ (d | ~b)) + m[10]! + (0xffeff47d | 0)) | 0
  c = (((t << 15) | (t >>> 17)) + d) | 0
  t = (b + (d ^ (c | ~a)) + m[1]! + (0x85845dd1 | 0)) | 0
  b = (((t << 21) | (t >>> 11)) + c) | 0
  t = (a + (c ^ (b | ~d)) + m[8]! + 0x6fa87e4f) | 0
  a = (((t << 6) | (t >>> 26)) + b) | 0
  t = (d + (b ^ (a | ~c)) + m[15]! + (0xfe2ce6e0 | 0)) | 0
  d = (((t << 10) | (t >>> 22)) + a) | 0
  t = (c + (a ^ (d | ~b)) + m[6]! + (0xa3014314 | 0)) | 0
  c = (((t << 15) | (t >>> 17)) + d) | 0
  t = (b + (d ^ (c | ~a)) + m[13]! + 0x4e0811a1) | 0
  b = (((t << 21) | (t >>> 11)) + c) | 0
  t = (a + (c ^ (b | ~d)) + m[4]! + (0xf7537e82 | 0)) | 0
  a = (((t << 6) | (t >>> 26)) + b) | 0
  t = (d + (b ^ (a | ~c)) + m[11]! + (0xbd3af235 | 0)) | 0
  d = (((t << 10) | (t >>> 22)) + a) | 0
  t = (c + (a ^ (d | ~b)) + m[2]! + 0x2ad7d2bb) | 0
  c = (((t << 15) | (t >>> 17)) + d) | 0
  t = (b + (d ^ (c | ~a)) + m[9]! + (0xeb86d391 | 0)) | 0
  b = (((t << 21) | (t >>> 11)) + c) | 0
  state[0] = (state[0]! + a) | 0
  state[1] = (state[1]! + b) | 0
  state[2] = (state[2]! + c) | 0
  state[3] = (state[3]! + d) | 0
}

/** A little-endian word's bytes in big-endian order (digest bytes → the high-to-low bits of the hash key). */
export const swap = (w: number): number =>
  (((w & 0xff) << 24) | ((w & 0xff00) << 8) | ((w >>> 8) & 0xff00) | (w >>> 24)) >>> 0

/** The hash key's top 48 bits as an exact integer (digest bytes 0–5). */
export const high48 = (words: Int32Array): number => swap(words[0]!) * 0x10000 + (swap(words[1]!) >>> 16)

/** The whole 128-bit hash key (digest bytes 0–15, big-endian). */
export const toBigInt = (words: Int32Array): bigint =>
  (BigInt(swap(words[0]!)) << 96n) | (BigInt(swap(words[1]!)) << 64n) | (BigInt(swap(words[2]!)) << 32n) |
  BigInt(swap(words[3]!))
