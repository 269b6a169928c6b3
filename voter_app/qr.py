"""The verification code as a QR code: in the terminal, as a PNG file, as an SVG for the page.

One module matrix (qrcode, error correction M) is drawn three ways, so the terminal, the PNG and
the page show the same code.
"""

from __future__ import annotations

import base64
import io
import os

import png
import qrcode
import qrcode.constants

from canonical.files import write_atomic

# Quiet zone of four modules, as the QR standard asks, so phone scanners find the code.
BORDER = 4


def qr_matrix(text: str) -> list[list[bool]]:
    """The modules of the QR code for `text` (True = dark), quiet zone included."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=BORDER)
    code.add_data(text)
    code.make(fit=True)
    return [list(row) for row in code.get_matrix()]


def qr_terminal(text: str, invert: bool = False) -> str:
    """The QR code drawn with Unicode half blocks (two module rows per text line)."""
    matrix = qr_matrix(text)
    if len(matrix) % 2:
        matrix.append([False] * len(matrix[0]))
    # Most terminals draw light text on a dark background: a block glyph is a light module and
    # a blank is a dark one. `invert` serves light-background terminals.
    glyphs = {(False, False): "█", (False, True): "▀", (True, False): "▄", (True, True): " "}
    if invert:
        glyphs = {key: glyphs[(not key[0], not key[1])] for key in glyphs}
    lines = []
    for top, bottom in zip(matrix[0::2], matrix[1::2], strict=True):
        lines.append("".join(glyphs[(a, b)] for a, b in zip(top, bottom, strict=True)))
    return "\n".join(lines)


def qr_png_bytes(text: str, scale: int = 8) -> bytes:
    """A greyscale PNG of the QR code, `scale` pixels per module (pypng, no Pillow needed)."""
    matrix = qr_matrix(text)
    rows = []
    for row in matrix:
        pixels = [0 if dark else 255 for dark in row for _ in range(scale)]
        rows.extend([pixels] * scale)
    buffer = io.BytesIO()
    png.Writer(len(rows[0]), len(rows), greyscale=True, bitdepth=8).write(buffer, rows)
    return buffer.getvalue()


def write_qr_png(path: str | os.PathLike[str], text: str) -> None:
    write_atomic(path, qr_png_bytes(text))


def qr_svg(text: str, label: str = "Verification code QR") -> str:
    """An inline SVG of the QR code (one path, no external assets), with an accessible name."""
    matrix = qr_matrix(text)
    size = len(matrix)
    cells = "".join(
        f"M{x} {y}h1v1h-1z" for y, row in enumerate(matrix) for x, dark in enumerate(row) if dark
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'width="{size * 6}" height="{size * 6}" role="img" aria-label="{label}" '
        'shape-rendering="crispEdges">'
        f'<rect width="{size}" height="{size}" fill="#fff"/><path d="{cells}" fill="#000"/></svg>'
    )


def qr_png_data_uri(text: str) -> str:
    return "data:image/png;base64," + base64.b64encode(qr_png_bytes(text)).decode("ascii")
