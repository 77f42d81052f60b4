#!/usr/bin/env python3
"""Derives and checks the folding constants in Sources/CRedCRC/crc32_fold.c.

For CRC-32/ISO-HDLC (reflected, polynomial 0x04C11DB7) a 16-byte block followed by D/8 zero
bytes has the same CRC as lo * k_lo ^ hi * k_hi (carry-less products of its two little-endian
halves), with k = bit-reflected (x^n mod P), shifted left one place. This script finds n for
each half by trying every exponent against zlib's CRC on random blocks, prints the constants,
then checks the whole fold (four accumulators, wind-down, table finish) at many lengths.
Not run by CI: the C file holds its output, and the Swift tests compare it with the table.
"""
import random
import struct
import zlib

P = 0x104C11DB7


def x_pow_mod(n):
    r = 1
    for _ in range(n):
        r <<= 1
        if r >> 32:
            r ^= P
    return r


def reflect32(v):
    return int(format(v, "032b")[::-1], 2)


def clmul(a, b):
    r = 0
    while b:
        if b & 1:
            r ^= a
        a <<= 1
        b >>= 1
    return r


def crc_register(register, data):
    """The raw CRC register after `data`, from `register` (no inversions)."""
    return zlib.crc32(data, register ^ 0xFFFFFFFF) ^ 0xFFFFFFFF


def constant_for(distance_bits, half):
    for n in range(distance_bits + 200):
        k = reflect32(x_pow_mod(n)) << 1
        good = True
        for _ in range(20):
            block = bytearray(random.randbytes(16))
            block[8 * (1 - half):8 * (2 - half)] = bytes(8)  # keep only the half under test
            lo, hi = struct.unpack("<QQ", block)
            folded = clmul(hi if half else lo, k).to_bytes(16, "little")
            if crc_register(0, bytes(block) + bytes(distance_bits // 8)) != crc_register(0, folded):
                good = False
                break
        if good:
            return n, k
    raise SystemExit(f"no constant for distance {distance_bits}, half {half}")


def fold(a, k_lo, k_hi):
    return clmul(a & (2**64 - 1), k_lo) ^ clmul(a >> 64, k_hi)


def crc_by_folding(register, data, by64, by16):
    n = len(data) // 16
    blocks = [int.from_bytes(data[16 * i:16 * i + 16], "little") for i in range(n)]
    blocks[0] ^= register
    if n >= 8:
        acc, i = blocks[0:4], 4
        while n - i >= 4:
            acc = [fold(acc[j], *by64) ^ blocks[i + j] for j in range(4)]
            i += 4
        a = acc[0]
        for j in range(1, 4):
            a = fold(a, *by16) ^ acc[j]
    else:
        a, i = blocks[0], 1
    for j in range(i, n):
        a = fold(a, *by16) ^ blocks[j]
    return crc_register(crc_register(0, a.to_bytes(16, "little")), data[16 * n:])


if __name__ == "__main__":
    by64 = tuple(constant_for(512, half)[1] for half in (0, 1))
    by16 = tuple(constant_for(128, half)[1] for half in (0, 1))
    for name, (lo, hi) in (("64-byte fold", by64), ("16-byte fold", by16)):
        print(f"{name}: low half 0x{lo:x}, high half 0x{hi:x}")
    for length in list(range(16, 400)) + [4092, 4096]:
        data, register = random.randbytes(length), random.getrandbits(32)
        assert crc_by_folding(register, data, by64, by16) == crc_register(register, data), length
    print("folding agrees with zlib at every length checked")
