#!/usr/bin/env python3
"""Pack a bzImage: the real-mode setup sectors (setup16.S, flat) followed by
the flat protected-mode image; fills setup_sects, syssize and init_size."""
import struct
import sys


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: mkbzimage.py SETUP.bin KERNEL.bin INIT_SIZE_FROM_ELF OUT")
    setup = bytearray(open(sys.argv[1], "rb").read())
    kernel = open(sys.argv[2], "rb").read()
    # syssize counts 16-byte paragraphs: pad so that it covers the file exactly
    kernel += bytes(-len(kernel) % 16)
    elf = open(sys.argv[3], "rb").read()
    if len(setup) % 512 or len(setup) < 1024:
        sys.exit("setup must be whole sectors, at least 2")
    if setup[0x202:0x206] != b"HdrS":
        sys.exit("setup has no HdrS header")
    setup[0x1F1] = len(setup) // 512 - 1
    struct.pack_into("<I", setup, 0x1F4, len(kernel) // 16)
    struct.pack_into("<I", setup, 0x260, memory_size(elf))
    with open(sys.argv[4], "wb") as out:
        out.write(setup)
        out.write(kernel)


def memory_size(elf):
    """Span of the PT_LOAD segments (file data plus bss) of an ELF64."""
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    lo, hi = None, 0
    for i in range(phnum):
        p_type, _, _, _, p_paddr, _, p_memsz = struct.unpack_from(
            "<IIQQQQQ", elf, phoff + i * phentsize)
        if p_type == 1:
            lo = p_paddr if lo is None else min(lo, p_paddr)
            hi = max(hi, p_paddr + p_memsz)
    if lo is None:
        sys.exit("ELF has no PT_LOAD")
    return (hi - lo + 4095) & ~4095


main()
