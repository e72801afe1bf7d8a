# Writes an MBR with one Linux partition (sector 2048 to the end of 64 MiB)
# into the disk image given, for the VM suite's plain-partition stack.
import struct, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(446)
    f.write(bytes([0, 0, 0, 0, 0x83, 0, 0, 0]) + struct.pack("<II", 2048, 64 * 2048 - 2048))
    f.seek(510)
    f.write(b"\x55\xaa")
