// Carry-less multiplication folding for CRC-32/ISO-HDLC (reflected polynomial 0xEDB88320),
// after Gopal et al., "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ
// Instruction" (Intel, 2009).
//
// Why C: Swift has no way to reach PCLMULQDQ, and the table-driven CRC was a twentieth of a
// bulk load's server CPU (every checkpointed page and every WAL record is checksummed).
//
// How it works. A CRC register is linear in the message, so a 16-byte block A followed by
// 16 zero bytes has the same CRC as the 128-bit value A_lo * k_lo ^ A_hi * k_hi (carry-less
// products), where k_lo and k_hi are x^160 and x^96 mod P, bit-reflected and shifted one place
// (the reflected product is one bit short of 128). Folding a block onto the next therefore
// keeps a 16-byte accumulator whose CRC from register 0 is the CRC of everything read so far.
// Four accumulators 64 bytes apart (constants x^544 and x^480 mod P) keep the multiplier
// busy; they are folded into one at the end. The initial register is the same as XOR-ing it
// into the first four bytes. scripts/crc32-fold-constants.py derives the constants and checks
// them, and the whole fold, against zlib's CRC.

#include "CRedCRC.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <cpuid.h>
#include <immintrin.h>

// CPUID leaf 1, ECX bit 1 (`bit_PCLMUL`): asked directly, so no compiler runtime support
// (`__builtin_cpu_supports` needs libgcc's or compiler-rt's CPU model) is linked in.
int red_crc32_fold_available(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    return (ecx & bit_PCLMUL) ? 1 : 0;
}

__attribute__((target("pclmul,sse2")))
static inline __m128i fold(__m128i a, __m128i k) {
    return _mm_xor_si128(_mm_clmulepi64_si128(a, k, 0x00), _mm_clmulepi64_si128(a, k, 0x11));
}

__attribute__((target("pclmul,sse2")))
static inline __m128i load(const uint8_t *p) {
    return _mm_loadu_si128((const __m128i *)p);
}

__attribute__((target("pclmul,sse2")))
void red_crc32_fold(uint32_t reg, const void *bytes, size_t blocks, void *out16) {
    const uint8_t *p = (const uint8_t *)bytes;
    // _mm_set_epi64x takes (high, low): the low constant multiplies the low (earlier) qword.
    const __m128i by64 = _mm_set_epi64x(0x1c6e41596LL, 0x154442bd4LL);  // x^480, x^544
    const __m128i by16 = _mm_set_epi64x(0x0ccaa009eLL, 0x1751997d0LL);  // x^96, x^160
    __m128i a = _mm_xor_si128(load(p), _mm_cvtsi32_si128((int)reg));
    size_t i = 1;
    if (blocks >= 8) {
        __m128i b = load(p + 16), c = load(p + 32), d = load(p + 48);
        for (i = 4; blocks - i >= 4; i += 4) {
            const uint8_t *q = p + 16 * i;
            a = _mm_xor_si128(fold(a, by64), load(q));
            b = _mm_xor_si128(fold(b, by64), load(q + 16));
            c = _mm_xor_si128(fold(c, by64), load(q + 32));
            d = _mm_xor_si128(fold(d, by64), load(q + 48));
        }
        a = _mm_xor_si128(fold(a, by16), b);
        a = _mm_xor_si128(fold(a, by16), c);
        a = _mm_xor_si128(fold(a, by16), d);
    }
    for (; i < blocks; i++) a = _mm_xor_si128(fold(a, by16), load(p + 16 * i));
    _mm_storeu_si128((__m128i *)out16, a);
}

#else

int red_crc32_fold_available(void) { return 0; }

void red_crc32_fold(uint32_t reg, const void *bytes, size_t blocks, void *out16) {
    (void)reg; (void)bytes; (void)blocks; (void)out16;
    __builtin_trap();  // callers check red_crc32_fold_available() first
}

#endif
