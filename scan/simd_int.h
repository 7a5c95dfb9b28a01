/*
 * simd_int.h: byte vectors for the hot loops of scan/ (scan/ only).
 *
 * GCC/Clang vector extensions instead of intrinsics: the same source gives
 * SSE2 code on baseline x86-64, AVX2 code in a function cloned with
 * SCAN_SIMD_CLONES (the loader picks the clone the CPU can run), and NEON
 * code on arm64. Loads go through memcpy (unaligned, no aliasing issue);
 * a comparison gives 0x00/0xFF lanes, which scan_v*_lanes() reduces to one
 * bit per lane in 64-bit words, so the first matching lane is a count of
 * trailing zeros (little-endian) or leading zeros (big-endian) / 8.
 */
#ifndef CCM_SCAN_SIMD_INT_H
#define CCM_SCAN_SIMD_INT_H

#include <stdint.h>
#include <string.h>

typedef unsigned char scan_v16 __attribute__((vector_size(16)));
typedef unsigned char scan_v32 __attribute__((vector_size(32)));

/* Not under ThreadSanitizer: the clones' ifunc resolvers run while the
 * loader relocates, before TSan's runtime is up, and crash there. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_THREAD__)
#define SCAN_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SCAN_SIMD_CLONES
#endif

static inline scan_v16 scan_v16_load(const unsigned char *p)
{
  scan_v16 v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* 32-byte vectors go by pointer: passing them by value outside an AVX
 * function would change the ABI (gcc -Wpsabi). */
static inline void scan_v32_load(scan_v32 *v, const unsigned char *p)
{
  memcpy(v, p, sizeof *v);
}

static inline scan_v16 scan_v16_splat(unsigned char c)
{
  return (scan_v16){0} + c;
}

static inline void scan_v32_splat(scan_v32 *v, unsigned char c)
{
  *v = (scan_v32){0} + c;
}

/* Lane index (0..7) of the lowest set lane of a lanes word. */
static inline unsigned scan_lane_first(uint64_t w)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return (unsigned)__builtin_ctzll(w) >> 3;
#else
  return (unsigned)__builtin_clzll(w) >> 3;
#endif
}

/* Clears the lowest set lane of a lanes word (one bit per lane). */
static inline uint64_t scan_lane_drop(uint64_t w)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return w & (w - 1);
#else
  return w & ~(0x8000000000000000ull >> __builtin_clzll(w));
#endif
}

/* 0x00/0xFF lanes of m as one bit per lane, in 2 or 4 words. */
static inline void scan_v16_lanes(scan_v16 m, uint64_t w[2])
{
  m &= scan_v16_splat(1);
  memcpy(w, &m, sizeof m);
}

static inline void scan_v32_lanes(const scan_v32 *m, uint64_t w[4])
{
  scan_v32 one = (scan_v32){0} + 1;
  scan_v32 bits = *m & one;
  memcpy(w, &bits, sizeof bits);
}

#endif /* CCM_SCAN_SIMD_INT_H */
