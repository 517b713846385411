"""Draws media/icon.png (128x128): a dark tile with bars of different heights (weights) and a spark.
Standard library only: python3 scripts/make-icon.py"""

import struct
import zlib
from pathlib import Path

S = 128


def blend(c1, c2, t):
    return tuple(int(a + (b - a) * t) for a, b in zip(c1, c2))


def inside_rounded(x, y, r=22):
    cx = min(max(x, r), S - 1 - r)
    cy = min(max(y, r), S - 1 - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


pixels = []
bars = [(22, 52), (40, 76), (58, 40), (76, 88), (94, 64)]  # (left x, height)
for y in range(S):
    row = []
    for x in range(S):
        if not inside_rounded(x, y):
            row.append((0, 0, 0, 0))
            continue
        c = blend((24, 32, 64), (10, 90, 120), (x + y) / (2 * S))
        for bx, h in bars:
            if bx <= x < bx + 12 and S - 22 - h <= y < S - 22:
                t = (S - 22 - y) / h
                c = blend((80, 220, 190), (250, 210, 90), t)
        # a small spark above the tallest bar
        dx, dy = x - 82, y - 22
        if abs(dx) + abs(dy) <= 9 and (abs(dx) <= 1 or abs(dy) <= 1 or abs(dx) + abs(dy) <= 4):
            c = (255, 240, 170)
        row.append(c + (255,))
    pixels.append(row)

raw = b"".join(b"\x00" + bytes(v for px in row for v in px) for row in pixels)


def chunk(tag, data):
    return (
        struct.pack(">I", len(data))
        + tag
        + data
        + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    )


png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", S, S, 8, 6, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
out = Path(__file__).resolve().parent.parent / "media" / "icon.png"
out.write_bytes(png)
print(f"wrote {out} ({len(png)} bytes)")
