"""Small, valid PNG images made with the standard library only (no Pillow)."""

from __future__ import annotations

import math
import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

Colour = tuple[int, int, int]


def _chunk(kind: bytes, data: bytes) -> bytes:
    checksum = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", checksum)


def encode_png(width: int, height: int, rows: list[bytes]) -> bytes:
    """Encode 8-bit RGB ``rows`` (``width * 3`` bytes each) as a PNG file."""
    if len(rows) != height or any(len(row) != width * 3 for row in rows):
        raise ValueError(f"encode_png() needs {height} rows of {width * 3} bytes each.")
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 on every row
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def landscape(colour: Colour, sun_x: float, width: int = 320, height: int = 200) -> bytes:
    """A picture in ``colour``: a sky fading to dark, a pale sun at ``sun_x`` (0-1), hills."""
    red, green, blue = colour
    sun_x_px, sun_y_px, sun_r2 = int(sun_x * width), height // 3, (height // 7) ** 2
    sun = bytes((255, 250, 225))
    hill = bytes((red // 4, green // 4, blue // 4))
    horizon = [
        int(height * (0.72 + 0.08 * math.sin(6.0 * x / width + 3 * sun_x))) for x in range(width)
    ]
    rows = []
    for y in range(height):
        shade = 1.0 - 0.55 * y / height
        row = bytearray(bytes((int(red * shade), int(green * shade), int(blue * shade))) * width)
        for x in range(width):
            if y >= horizon[x]:
                row[3 * x : 3 * x + 3] = hill
            elif (x - sun_x_px) ** 2 + (y - sun_y_px) ** 2 <= sun_r2:
                row[3 * x : 3 * x + 3] = sun
        rows.append(bytes(row))
    return encode_png(width, height, rows)
