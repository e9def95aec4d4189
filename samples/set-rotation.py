#!/usr/bin/env python3
"""Sets the display rotation of an MP4's video track, as phones do, by writing the tkhd matrix in place.

    samples/set-rotation.py FILE DEGREES     (DEGREES: 0, 90, 180 or 270, clockwise)

ffmpeg 5.1 (Debian 12) cannot write a rotation on output, and GStreamer's mp4mux ignores injected
orientation tags, so test media gets its rotation this way.
"""
import struct
import sys

MATRICES = {  # 16.16 a, b, u, c, d, v, x, y, w (2.30 for u, v, w)
    0: (0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000),
    90: (0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000),
    180: (-0x10000, 0, 0, 0, -0x10000, 0, 0, 0, 0x40000000),
    270: (0, -0x10000, 0, 0x10000, 0, 0, 0, 0, 0x40000000),
}
CONTAINERS = {b"moov", b"trak", b"mdia", b"minf"}


def boxes(data, start, end):
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        header = 8
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8:pos + 16])[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header:
            raise ValueError(f"bad box size at {pos}")
        yield kind, pos, header, size
        pos += size


def main():
    path, degrees = sys.argv[1], int(sys.argv[2])
    if degrees not in MATRICES:
        sys.exit("error: DEGREES must be 0, 90, 180 or 270")
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        patched = 0
        for kind, pos, header, size in boxes(data, 0, len(data)):
            if kind != b"moov":
                continue
            for tkind, tpos, theader, tsize in boxes(data, pos + header, pos + size):
                if tkind != b"trak":
                    continue
                children = {k: (p, h, s) for k, p, h, s in boxes(data, tpos + theader, tpos + tsize)}
                mdia = children.get(b"mdia")
                tkhd = children.get(b"tkhd")
                if not mdia or not tkhd:
                    continue
                mdia_children = {k: (p, h, s) for k, p, h, s in boxes(data, mdia[0] + mdia[1], mdia[0] + mdia[2])}
                hdlr = mdia_children.get(b"hdlr")
                if not hdlr or data[hdlr[0] + hdlr[1] + 8:hdlr[0] + hdlr[1] + 12] != b"vide":
                    continue
                p, h, _ = tkhd
                version = data[p + h]
                offset = p + h + 4 + (32 if version == 1 else 20) + 8 + 8
                data[offset:offset + 36] = struct.pack(">9i", *MATRICES[degrees])
                patched += 1
        if patched == 0:
            sys.exit(f"error: {path} has no video track header to patch")
        f.seek(0)
        f.write(data)


if __name__ == "__main__":
    main()
