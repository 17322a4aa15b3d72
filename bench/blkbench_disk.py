"""The disk file test=blkbench reads (tests/guest/blkbench.c): the first 8
bytes of every 512-byte sector are tag(sector) = (sector * 0x9E3779B97F4A7C15
mod 2**64) XOR seed, little-endian, so the guest can check each request's data
where it lands; the rest of the sector is filler."""
import struct

SECTOR = 512
TAG_MUL = 0x9E3779B97F4A7C15
MASK = (1 << 64) - 1


def tag(seed, sector):
    return ((sector * TAG_MUL) & MASK) ^ seed


def make_disk(path, size, seed):
    """Writes `size` bytes (a multiple of 512) of tagged sectors to path."""
    if size % SECTOR:
        raise ValueError("disk size must be a multiple of 512")
    chunk_sectors = 8192           # 4 MiB at a time
    filler = bytes((i * 7 + 1) & 0xFF for i in range(SECTOR))
    with open(path, "wb") as f:
        for first in range(0, size // SECTOR, chunk_sectors):
            n = min(chunk_sectors, size // SECTOR - first)
            buf = bytearray(filler * n)
            for s in range(n):
                struct.pack_into("<Q", buf, s * SECTOR, tag(seed, first + s))
            f.write(buf)
