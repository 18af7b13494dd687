/**
 * SHA-1 applied again and again to its own 20-byte output: the inner loop of the PKCS#12 key
 * derivation (RFC 7292 B.2, step 6a), and nothing else.
 *
 * Why this is hand-written: the KDF hashes its previous 20-byte digest `iterations` times for
 * each output block, and a profile's PKCS#12 needs four blocks (3DES key ×2, IV, MAC key), so
 * openssl's default of 2048 iterations means 8192 hashes per file. node:crypto costs ~0.6–1 µs
 * per call whatever the input size (binding, hash context, result Buffer), while the hashing
 * itself is one 64-byte block. Here the digest stays in five int32 words between iterations
 * (it is exactly the first five message words of the next block), the padding is constant
 * (words 5–15 are literals the JIT folds away), the 80 rounds are unrolled so every value
 * lives in a register, and nothing is allocated: ~0.08 µs per hash once optimised.
 *
 * Only for 20-byte inputs; any other input goes through node:crypto.
 */

/** SHA-1 applied `times` times to `value` (20 bytes); `times` = 0 returns a copy. */
export function repeatSha1(value: Uint8Array, times: number): Buffer {
  if (value.length !== 20) throw new RangeError(`repeatSha1 hashes 20-byte values, got ${value.length} bytes`);
  const view = new DataView(value.buffer, value.byteOffset, 20);
  let h0 = view.getInt32(0);
  let h1 = view.getInt32(4);
  let h2 = view.getInt32(8);
  let h3 = view.getInt32(12);
  let h4 = view.getInt32(16);
  // The block after the 20 message bytes: 0x80, zeros, and the bit length (160) at the end.
  const w5 = -0x80000000;
  const w6 = 0;
  const w7 = 0;
  const w8 = 0;
  const w9 = 0;
  const w10 = 0;
  const w11 = 0;
  const w12 = 0;
  const w13 = 0;
  const w14 = 0;
  const w15 = 160;
  for (let n = 0; n < times; n++) {
    const w0 = h0;
    const w1 = h1;
    const w2 = h2;
    const w3 = h3;
    const w4 = h4;
    let a = 0x67452301;
    let b = -0x10325477; // 0xefcdab89 as an int32
    let c = -0x67452302; // 0x98badcfe
    let d = 0x10325476;
    let e = -0x3c2d1e10; // 0xc3d2e1f0
    let x = 0;
    // Each line is one round with the roles of a–e rotated, so no values are shuffled between
    // rounds; w16–w79 are the message schedule, each computed just before its round. The
    // constants K (0x8f1bbcdc, 0xca62c1d6 for rounds 40–79) are written as negative int32s so
    // that the sums stay int32 arithmetic.
    // rounds 0–19
    e = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + e + w0 + 0x5a827999) | 0; b = (b << 30) | (b >>> 2);
    d = (((e << 5) | (e >>> 27)) + ((a & b) | (~a & c)) + d + w1 + 0x5a827999) | 0; a = (a << 30) | (a >>> 2);
    c = (((d << 5) | (d >>> 27)) + ((e & a) | (~e & b)) + c + w2 + 0x5a827999) | 0; e = (e << 30) | (e >>> 2);
    b = (((c << 5) | (c >>> 27)) + ((d & e) | (~d & a)) + b + w3 + 0x5a827999) | 0; d = (d << 30) | (d >>> 2);
    a = (((b << 5) | (b >>> 27)) + ((c & d) | (~c & e)) + a + w4 + 0x5a827999) | 0; c = (c << 30) | (c >>> 2);
    e = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + e + w5 + 0x5a827999) | 0; b = (b << 30) | (b >>> 2);
    d = (((e << 5) | (e >>> 27)) + ((a & b) | (~a & c)) + d + w6 + 0x5a827999) | 0; a = (a << 30) | (a >>> 2);
    c = (((d << 5) | (d >>> 27)) + ((e & a) | (~e & b)) + c + w7 + 0x5a827999) | 0; e = (e << 30) | (e >>> 2);
    b = (((c << 5) | (c >>> 27)) + ((d & e) | (~d & a)) + b + w8 + 0x5a827999) | 0; d = (d << 30) | (d >>> 2);
    a = (((b << 5) | (b >>> 27)) + ((c & d) | (~c & e)) + a + w9 + 0x5a827999) | 0; c = (c << 30) | (c >>> 2);
    e = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + e + w10 + 0x5a827999) | 0; b = (b << 30) | (b >>> 2);
    d = (((e << 5) | (e >>> 27)) + ((a & b) | (~a & c)) + d + w11 + 0x5a827999) | 0; a = (a << 30) | (a >>> 2);
    c = (((d << 5) | (d >>> 27)) + ((e & a) | (~e & b)) + c + w12 + 0x5a827999) | 0; e = (e << 30) | (e >>> 2);
    b = (((c << 5) | (c >>> 27)) + ((d & e) | (~d & a)) + b + w13 + 0x5a827999) | 0; d = (d << 30) | (d >>> 2);
    a = (((b << 5) | (b >>> 27)) + ((c & d) | (~c & e)) + a + w14 + 0x5a827999) | 0; c = (c << 30) | (c >>> 2);
    e = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + e + w15 + 0x5a827999) | 0; b = (b << 30) | (b >>> 2);
    x = w13 ^ w8 ^ w2 ^ w0; const w16 = (x << 1) | (x >>> 31);
    d = (((e << 5) | (e >>> 27)) + ((a & b) | (~a & c)) + d + w16 + 0x5a827999) | 0; a = (a << 30) | (a >>> 2);
    x = w14 ^ w9 ^ w3 ^ w1; const w17 = (x << 1) | (x >>> 31);
    c = (((d << 5) | (d >>> 27)) + ((e & a) | (~e & b)) + c + w17 + 0x5a827999) | 0; e = (e << 30) | (e >>> 2);
    x = w15 ^ w10 ^ w4 ^ w2; const w18 = (x << 1) | (x >>> 31);
    b = (((c << 5) | (c >>> 27)) + ((d & e) | (~d & a)) + b + w18 + 0x5a827999) | 0; d = (d << 30) | (d >>> 2);
    x = w16 ^ w11 ^ w5 ^ w3; const w19 = (x << 1) | (x >>> 31);
    a = (((b << 5) | (b >>> 27)) + ((c & d) | (~c & e)) + a + w19 + 0x5a827999) | 0; c = (c << 30) | (c >>> 2);
    // rounds 20–39
    x = w17 ^ w12 ^ w6 ^ w4; const w20 = (x << 1) | (x >>> 31);
    e = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + w20 + 0x6ed9eba1) | 0; b = (b << 30) | (b >>> 2);
    x = w18 ^ w13 ^ w7 ^ w5; const w21 = (x << 1) | (x >>> 31);
    d = (((e << 5) | (e >>> 27)) + (a ^ b ^ c) + d + w21 + 0x6ed9eba1) | 0; a = (a << 30) | (a >>> 2);
    x = w19 ^ w14 ^ w8 ^ w6; const w22 = (x << 1) | (x >>> 31);
    c = (((d << 5) | (d >>> 27)) + (e ^ a ^ b) + c + w22 + 0x6ed9eba1) | 0; e = (e << 30) | (e >>> 2);
    x = w20 ^ w15 ^ w9 ^ w7; const w23 = (x << 1) | (x >>> 31);
    b = (((c << 5) | (c >>> 27)) + (d ^ e ^ a) + b + w23 + 0x6ed9eba1) | 0; d = (d << 30) | (d >>> 2);
    x = w21 ^ w16 ^ w10 ^ w8; const w24 = (x << 1) | (x >>> 31);
    a = (((b << 5) | (b >>> 27)) + (c ^ d ^ e) + a + w24 + 0x6ed9eba1) | 0; c = (c << 30) | (c >>> 2);
    x = w22 ^ w17 ^ w11 ^ w9; const w25 = (x << 1) | (x >>> 31);
    e = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + w25 + 0x6ed9eba1) | 0; b = (b << 30) | (b >>> 2);
    x = w23 ^ w18 ^ w12 ^ w10; const w26 = (x << 1) | (x >>> 31);
    d = (((e << 5) | (e >>> 27)) + (a ^ b ^ c) + d + w26 + 0x6ed9eba1) | 0; a = (a << 30) | (a >>> 2);
    x = w24 ^ w19 ^ w13 ^ w11; const w27 = (x << 1) | (x >>> 31);
    c = (((d << 5) | (d >>> 27)) + (e ^ a ^ b) + c + w27 + 0x6ed9eba1) | 0; e = (e << 30) | (e >>> 2);
    x = w25 ^ w20 ^ w14 ^ w12; const w28 = (x << 1) | (x >>> 31);
    b = (((c << 5) | (c >>> 27)) + (d ^ e ^ a) + b + w28 + 0x6ed9eba1) | 0; d = (d << 30) | (d >>> 2);
    x = w26 ^ w21 ^ w15 ^ w13; const w29 = (x << 1) | (x >>> 31);
    a = (((b << 5) | (b >>> 27)) + (c ^ d ^ e) + a + w29 + 0x6ed9eba1) | 0; c = (c << 30) | (c >>> 2);
    x = w27 ^ w22 ^ w16 ^ w14; const w30 = (x << 1) | (x >>> 31);
    e = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + w30 + 0x6ed9eba1) | 0; b = (b << 30) | (b >>> 2);
    x = w28 ^ w23 ^ w17 ^ w15; const w31 = (x << 1) | (x >>> 31);
    d = (((e << 5) | (e >>> 27)) + (a ^ b ^ c) + d + w31 + 0x6ed9eba1) | 0; a = (a << 30) | (a >>> 2);
    x = w29 ^ w24 ^ w18 ^ w16; const w32 = (x << 1) | (x >>> 31);
    c = (((d << 5) | (d >>> 27)) + (e ^ a ^ b) + c + w32 + 0x6ed9eba1) | 0; e = (e << 30) | (e >>> 2);
    x = w30 ^ w25 ^ w19 ^ w17; const w33 = (x << 1) | (x >>> 31);
    b = (((c << 5) | (c >>> 27)) + (d ^ e ^ a) + b + w33 + 0x6ed9eba1) | 0; d = (d << 30) | (d >>> 2);
    x = w31 ^ w26 ^ w20 ^ w18; const w34 = (x << 1) | (x >>> 31);
    a = (((b << 5) | (b >>> 27)) + (c ^ d ^ e) + a + w34 + 0x6ed9eba1) | 0; c = (c << 30) | (c >>> 2);
    x = w32 ^ w27 ^ w21 ^ w19; const w35 = (x << 1) | (x >>> 31);
    e = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + w35 + 0x6ed9eba1) | 0; b = (b << 30) | (b >>> 2);
    x = w33 ^ w28 ^ w22 ^ w20; const w36 = (x << 1) | (x >>> 31);
    d = (((e << 5) | (e >>> 27)) + (a ^ b ^ c) + d + w36 + 0x6ed9eba1) | 0; a = (a << 30) | (a >>> 2);
    x = w34 ^ w29 ^ w23 ^ w21; const w37 = (x << 1) | (x >>> 31);
    c = (((d << 5) | (d >>> 27)) + (e ^ a ^ b) + c + w37 + 0x6ed9eba1) | 0; e = (e << 30) | (e >>> 2);
    x = w35 ^ w30 ^ w24 ^ w22; const w38 = (x << 1) | (x >>> 31);
    b = (((c << 5) | (c >>> 27)) + (d ^ e ^ a) + b + w38 + 0x6ed9eba1) | 0; d = (d << 30) | (d >>> 2);
    x = w36 ^ w31 ^ w25 ^ w23; const w39 = (x << 1) | (x >>> 31);
    a = (((b << 5) | (b >>> 27)) + (c ^ d ^ e) + a + w39 + 0x6ed9eba1) | 0; c = (c << 30) | (c >>> 2);
    // rounds 40–59
    x = w37 ^ w32 ^ w26 ^ w24; const w40 = (x << 1) | (x >>> 31);
    e = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) + e + w40 - 0x70e44324) | 0; b = (b << 30) | (b >>> 2);
    x = w38 ^ w33 ^ w27 ^ w25; const w41 = (x << 1) | (x >>> 31);
    d = (((e << 5) | (e >>> 27)) + ((a & b) | (a & c) | (b & c)) + d + w41 - 0x70e44324) | 0; a = (a << 30) | (a >>> 2);
    x = w39 ^ w34 ^ w28 ^ w26; const w42 = (x << 1) | (x >>> 31);
    c = (((d << 5) | (d >>> 27)) + ((e & a) | (e & b) | (a & b)) + c + w42 - 0x70e44324) | 0; e = (e << 30) | (e >>> 2);
    x = w40 ^ w35 ^ w29 ^ w27; const w43 = (x << 1) | (x >>> 31);
    b = (((c << 5) | (c >>> 27)) + ((d & e) | (d & a) | (e & a)) + b + w43 - 0x70e44324) | 0; d = (d << 30) | (d >>> 2);
    x = w41 ^ w36 ^ w30 ^ w28; const w44 = (x << 1) | (x >>> 31);
    a = (((b << 5) | (b >>> 27)) + ((c & d) | (c & e) | (d & e)) + a + w44 - 0x70e44324) | 0; c = (c << 30) | (c >>> 2);
    x = w42 ^ w37 ^ w31 ^ w29; const w45 = (x << 1) | (x >>> 31);
    e = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) + e + w45 - 0x70e44324) | 0; b = (b << 30) | (b >>> 2);
    x = w43 ^ w38 ^ w32 ^ w30; const w46 = (x << 1) | (x >>> 31);
    d = (((e << 5) | (e >>> 27)) + ((a & b) | (a & c) | (b & c)) + d + w46 - 0x70e44324) | 0; a = (a << 30) | (a >>> 2);
    x = w44 ^ w39 ^ w33 ^ w31; const w47 = (x << 1) | (x >>> 31);
    c = (((d << 5) | (d >>> 27)) + ((e & a) | (e & b) | (a & b)) + c + w47 - 0x70e44324) | 0; e = (e << 30) | (e >>> 2);
    x = w45 ^ w40 ^ w34 ^ w32; const w48 = (x << 1) | (x >>> 31);
    b = (((c << 5) | (c >>> 27)) + ((d & e) | (d & a) | (e & a)) + b + w48 - 0x70e44324) | 0; d = (d << 30) | (d >>> 2);
    x = w46 ^ w41 ^ w35 ^ w33; const w49 = (x << 1) | (x >>> 31);
    a = (((b << 5) | (b >>> 27)) + ((c & d) | (c & e) | (d & e)) + a + w49 - 0x70e44324) | 0; c = (c << 30) | (c >>> 2);
    x = w47 ^ w42 ^ w36 ^ w34; const w50 = (x << 1) | (x >>> 31);
    e = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) + e + w50 - 0x70e44324) | 0; b = (b << 30) | (b >>> 2);
    x = w48 ^ w43 ^ w37 ^ w35; const w51 = (x << 1) | (x >>> 31);
    d = (((e << 5) | (e >>> 27)) + ((a & b) | (a & c) | (b & c)) + d + w51 - 0x70e44324) | 0; a = (a << 30) | (a >>> 2);
    x = w49 ^ w44 ^ w38 ^ w36; const w52 = (x << 1) | (x >>> 31);
    c = (((d << 5) | (d >>> 27)) + ((e & a) | (e & b) | (a & b)) + c + w52 - 0x70e44324) | 0; e = (e << 30) | (e >>> 2);
    x = w50 ^ w45 ^ w39 ^ w37; const w53 = (x << 1) | (x >>> 31);
    b = (((c << 5) | (c >>> 27)) + ((d & e) | (d & a) | (e & a)) + b + w53 - 0x70e44324) | 0; d = (d << 30) | (d >>> 2);
    x = w51 ^ w46 ^ w40 ^ w38; const w54 = (x << 1) | (x >>> 31);
    a = (((b << 5) | (b >>> 27)) + ((c & d) | (c & e) | (d & e)) + a + w54 - 0x70e44324) | 0; c = (c << 30) | (c >>> 2);
    x = w52 ^ w47 ^ w41 ^ w39; const w55 = (x << 1) | (x >>> 31);
    e = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) + e + w55 - 0x70e44324) | 0; b = (b << 30) | (b >>> 2);
    x = w53 ^ w48 ^ w42 ^ w40; const w56 = (x << 1) | (x >>> 31);
    d = (((e << 5) | (e >>> 27)) + ((a & b) | (a & c) | (b & c)) + d + w56 - 0x70e44324) | 0; a = (a << 30) | (a >>> 2);
    x = w54 ^ w49 ^ w43 ^ w41; const w57 = (x << 1) | (x >>> 31);
    c = (((d << 5) | (d >>> 27)) + ((e & a) | (e & b) | (a & b)) + c + w57 - 0x70e44324) | 0; e = (e << 30) | (e >>> 2);
    x = w55 ^ w50 ^ w44 ^ w42; const w58 = (x << 1) | (x >>> 31);
    b = (((c << 5) | (c >>> 27)) + ((d & e) | (d & a) | (e & a)) + b + w58 - 0x70e44324) | 0; d = (d << 30) | (d >>> 2);
    x = w56 ^ w51 ^ w45 ^ w43; const w59 = (x << 1) | (x >>> 31);
    a = (((b << 5) | (b >>> 27)) + ((c & d) | (c & e) | (d & e)) + a + w59 - 0x70e44324) | 0; c = (c << 30) | (c >>> 2);
    // rounds 60–79
    x = w57 ^ w52 ^ w46 ^ w44; const w60 = (x << 1) | (x >>> 31);
    e = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + w60 - 0x359d3e2a) | 0; b = (b << 30) | (b >>> 2);
    x = w58 ^ w53 ^ w47 ^ w45; const w61 = (x << 1) | (x >>> 31);
    d = (((e << 5) | (e >>> 27)) + (a ^ b ^ c) + d + w61 - 0x359d3e2a) | 0; a = (a << 30) | (a >>> 2);
    x = w59 ^ w54 ^ w48 ^ w46; const w62 = (x << 1) | (x >>> 31);
    c = (((d << 5) | (d >>> 27)) + (e ^ a ^ b) + c + w62 - 0x359d3e2a) | 0; e = (e << 30) | (e >>> 2);
    x = w60 ^ w55 ^ w49 ^ w47; const w63 = (x << 1) | (x >>> 31);
    b = (((c << 5) | (c >>> 27)) + (d ^ e ^ a) + b + w63 - 0x359d3e2a) | 0; d = (d << 30) | (d >>> 2);
    x = w61 ^ w56 ^ w50 ^ w48; const w64 = (x << 1) | (x >>> 31);
    a = (((b << 5) | (b >>> 27)) + (c ^ d ^ e) + a + w64 - 0x359d3e2a) | 0; c = (c << 30) | (c >>> 2);
    x = w62 ^ w57 ^ w51 ^ w49; const w65 = (x << 1) | (x >>> 31);
    e = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + w65 - 0x359d3e2a) | 0; b = (b << 30) | (b >>> 2);
    x = w63 ^ w58 ^ w52 ^ w50; const w66 = (x << 1) | (x >>> 31);
    d = (((e << 5) | (e >>> 27)) + (a ^ b ^ c) + d + w66 - 0x359d3e2a) | 0; a = (a << 30) | (a >>> 2);
    x = w64 ^ w59 ^ w53 ^ w51; const w67 = (x << 1) | (x >>> 31);
    c = (((d << 5) | (d >>> 27)) + (e ^ a ^ b) + c + w67 - 0x359d3e2a) | 0; e = (e << 30) | (e >>> 2);
    x = w65 ^ w60 ^ w54 ^ w52; const w68 = (x << 1) | (x >>> 31);
    b = (((c << 5) | (c >>> 27)) + (d ^ e ^ a) + b + w68 - 0x359d3e2a) | 0; d = (d << 30) | (d >>> 2);
    x = w66 ^ w61 ^ w55 ^ w53; const w69 = (x << 1) | (x >>> 31);
    a = (((b << 5) | (b >>> 27)) + (c ^ d ^ e) + a + w69 - 0x359d3e2a) | 0; c = (c << 30) | (c >>> 2);
    x = w67 ^ w62 ^ w56 ^ w54; const w70 = (x << 1) | (x >>> 31);
    e = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + w70 - 0x359d3e2a) | 0; b = (b << 30) | (b >>> 2);
    x = w68 ^ w63 ^ w57 ^ w55; const w71 = (x << 1) | (x >>> 31);
    d = (((e << 5) | (e >>> 27)) + (a ^ b ^ c) + d + w71 - 0x359d3e2a) | 0; a = (a << 30) | (a >>> 2);
    x = w69 ^ w64 ^ w58 ^ w56; const w72 = (x << 1) | (x >>> 31);
    c = (((d << 5) | (d >>> 27)) + (e ^ a ^ b) + c + w72 - 0x359d3e2a) | 0; e = (e << 30) | (e >>> 2);
    x = w70 ^ w65 ^ w59 ^ w57; const w73 = (x << 1) | (x >>> 31);
    b = (((c << 5) | (c >>> 27)) + (d ^ e ^ a) + b + w73 - 0x359d3e2a) | 0; d = (d << 30) | (d >>> 2);
    x = w71 ^ w66 ^ w60 ^ w58; const w74 = (x << 1) | (x >>> 31);
    a = (((b << 5) | (b >>> 27)) + (c ^ d ^ e) + a + w74 - 0x359d3e2a) | 0; c = (c << 30) | (c >>> 2);
    x = w72 ^ w67 ^ w61 ^ w59; const w75 = (x << 1) | (x >>> 31);
    e = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + w75 - 0x359d3e2a) | 0; b = (b << 30) | (b >>> 2);
    x = w73 ^ w68 ^ w62 ^ w60; const w76 = (x << 1) | (x >>> 31);
    d = (((e << 5) | (e >>> 27)) + (a ^ b ^ c) + d + w76 - 0x359d3e2a) | 0; a = (a << 30) | (a >>> 2);
    x = w74 ^ w69 ^ w63 ^ w61; const w77 = (x << 1) | (x >>> 31);
    c = (((d << 5) | (d >>> 27)) + (e ^ a ^ b) + c + w77 - 0x359d3e2a) | 0; e = (e << 30) | (e >>> 2);
    x = w75 ^ w70 ^ w64 ^ w62; const w78 = (x << 1) | (x >>> 31);
    b = (((c << 5) | (c >>> 27)) + (d ^ e ^ a) + b + w78 - 0x359d3e2a) | 0; d = (d << 30) | (d >>> 2);
    x = w76 ^ w71 ^ w65 ^ w63; const w79 = (x << 1) | (x >>> 31);
    a = (((b << 5) | (b >>> 27)) + (c ^ d ^ e) + a + w79 - 0x359d3e2a) | 0; c = (c << 30) | (c >>> 2);
    h0 = (a + 0x67452301) | 0;
    h1 = (b - 0x10325477) | 0;
    h2 = (c - 0x67452302) | 0;
    h3 = (d + 0x10325476) | 0;
    h4 = (e - 0x3c2d1e10) | 0;
  }
  const out = Buffer.allocUnsafe(20);
  out.writeInt32BE(h0, 0);
  out.writeInt32BE(h1, 4);
  out.writeInt32BE(h2, 8);
  out.writeInt32BE(h3, 12);
  out.writeInt32BE(h4, 16);
  return out;
}
