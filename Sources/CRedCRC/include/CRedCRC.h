#ifndef CREDCRC_H
#define CREDCRC_H

#include <stddef.h>
#include <stdint.h>

/// 1 when `red_crc32_fold` can run on this CPU (x86-64 with PCLMULQDQ), else 0.
int red_crc32_fold_available(void);

/// Folds `blocks` (at least 1) 16-byte blocks of `bytes`, read as a CRC-32/ISO-HDLC message
/// continuing from the raw (uninverted) register `reg`, into 16 bytes written to `out16`
/// whose CRC from register 0 equals that message's register. The caller finishes those 16
/// bytes (and any tail) with its table. Only call when `red_crc32_fold_available()`.
void red_crc32_fold(uint32_t reg, const void *bytes, size_t blocks, void *out16);

#endif
