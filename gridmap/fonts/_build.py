"""Rebuild the bundled CJK font subset (maintainers only; not needed at run time).

Subsets Noto Sans CJK SC Regular (SIL Open Font License 1.1, from Debian's
``fonts-noto-cjk``) to ASCII, Latin-1, common punctuation and symbols, all GB2312
characters and every character used in gridmap's own sources, profiles and demo
data, and converts the CFF outlines to TrueType (quadratic) so matplotlib can
embed it as Type 42 and any PDF viewer shows it::

    .venv/bin/python -m gridmap.fonts._build [REGULAR.ttc BOLD.ttc]

The results, ``NotoSansSC-gridmap.ttf`` and ``NotoSansSC-gridmap-Bold.ttf``, are renamed "Gridmap Noto Sans SC" as the
OFL's Reserved Font Name clause asks of modified versions (Noto has no RFN, the
rename just keeps it apart from an installed full Noto).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "NotoSansSC-gridmap.ttf"
OUT_BOLD = HERE / "NotoSansSC-gridmap-Bold.ttf"
FAMILY = "Gridmap Noto Sans SC"
DEFAULT_SOURCE = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
DEFAULT_BOLD = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"


def charset() -> set[str]:
    """The characters kept in the subset."""
    chars = {chr(c) for c in range(0x20, 0x7F)} | {chr(c) for c in range(0xA0, 0x100)}
    for lo, hi in (
        (0x2000, 0x206F),
        (0x2070, 0x209F),
        (0x2100, 0x214F),
        (0x2190, 0x21FF),
        (0x2200, 0x22FF),
        (0x2460, 0x24FF),
        (0x2500, 0x25FF),
        (0x3000, 0x303F),
        (0xFF00, 0xFFEF),
    ):
        chars |= {chr(c) for c in range(lo, hi + 1)}
    for b1 in range(0xA1, 0xF8):
        for b2 in range(0xA1, 0xFF):
            try:
                chars.add(bytes([b1, b2]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    root = HERE.parent.parent
    for pattern in (
        "gridmap/**/*.py",
        "gridmap/**/*.toml",
        "data/*.md",
        "data/*.py",
        "dashboards/**/*.py",
    ):
        for path in root.glob(pattern):
            chars |= set(path.read_text(encoding="utf-8", errors="ignore"))
    demo = root / "data" / "demo.gpkg"
    if demo.exists():
        import pyogrio

        for layer, _ in pyogrio.list_layers(demo):
            df = pyogrio.read_dataframe(demo, layer=layer, read_geometry=False)
            for col in df.columns:
                chars |= set(str(col))
                if df[col].dtype == object:
                    for v in df[col].dropna():
                        chars |= set(str(v))
    return {c for c in chars if c.isprintable() or c == " "}


def _to_truetype(font) -> None:
    """CFF → glyf outlines (the fontTools otf2ttf recipe)."""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable

    order = font.getGlyphOrder()
    glyphs = {}
    gs = font.getGlyphSet()
    for name in order:
        pen = TTGlyphPen(gs)
        gs[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
        glyphs[name] = pen.glyph()
    del font["CFF "]
    if "VORG" in font:
        del font["VORG"]
    glyf = font["glyf"] = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = glyphs
    font["loca"] = newTable("loca")
    maxp = font["maxp"]
    maxp.tableVersion = 0x00010000
    for attr in (
        "maxZones",
        "maxTwilightPoints",
        "maxStorage",
        "maxFunctionDefs",
        "maxInstructionDefs",
        "maxStackElements",
        "maxSizeOfInstructions",
        "maxComponentElements",
    ):
        setattr(maxp, attr, 0)
    maxp.maxZones = 1
    font["head"].glyphDataFormat = 0
    font["head"].indexToLocFormat = 1
    post = font["post"]
    post.formatType = 2.0
    post.extraNames = []
    post.mapping = {}
    post.glyphOrder = order
    font.sfntVersion = "\x00\x01\x00\x00"


def build(source: str = DEFAULT_SOURCE, out: Path = OUT, *, weight: str = "Regular") -> Path:
    from fontTools import subset
    from fontTools.ttLib import TTCollection

    coll = TTCollection(source)
    font = next(f for f in coll.fonts if "Noto Sans CJK SC" in str(f["name"].getDebugName(1)))
    opts = subset.Options()
    opts.layout_features = ["kern", "vert", "vrt2", "palt"]
    opts.name_IDs = ["*"]
    opts.notdef_outline = True
    opts.hinting = False
    opts.desubroutinize = True
    sub = subset.Subsetter(opts)
    sub.populate(text="".join(sorted(charset())))
    sub.subset(font)
    _to_truetype(font)
    name = font["name"]
    for rec in list(name.names):
        if rec.nameID in (1, 4, 16):
            rec.string = FAMILY if rec.nameID != 4 else f"{FAMILY} {weight}"
        elif rec.nameID in (2, 17):
            rec.string = weight
        elif rec.nameID == 6:
            rec.string = f"GridmapNotoSansSC-{weight}"
        elif rec.nameID == 3:
            rec.string = f"Gridmap subset of Noto Sans CJK SC {weight}"
    tmp = out.with_suffix(".tmp")
    font.save(str(tmp))
    os.replace(tmp, out)
    return out


if __name__ == "__main__":
    regular, bold = (sys.argv[1:3] + [DEFAULT_SOURCE, DEFAULT_BOLD][len(sys.argv[1:3]) :])[:2]
    for path in (build(regular, OUT), build(bold, OUT_BOLD, weight="Bold")):
        print(f"{path} {path.stat().st_size / 1e6:.1f} MB")
