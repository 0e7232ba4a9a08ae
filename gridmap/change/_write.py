"""Writing the change outputs: CSV (UTF-8 with BOM), one XLSX of several sheets, a GeoPackage.

Tables are written with Chinese headers (the planner's copy) from the English column names of
the library's frames; the GeoPackage keeps the English names (GIS field names).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from geopandas import GeoDataFrame


def zh(frame: pd.DataFrame, headers: Mapping[str, str]) -> pd.DataFrame:
    """``frame`` without geometry, columns renamed by ``headers`` (others kept as they are)."""
    df = pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
    return df.rename(columns=dict(headers))


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """A CSV Excel opens with its Chinese text intact (UTF-8 with BOM)."""
    frame.to_csv(path, index=False, encoding="utf-8-sig")


def write_xlsx(sheets: Mapping[str, pd.DataFrame], path: Path) -> None:
    """One workbook, a sheet per entry (names ≤ 31 characters), header row frozen."""
    with pd.ExcelWriter(path, engine="xlsxwriter") as book:
        for name, frame in sheets.items():
            frame.to_excel(book, sheet_name=name[:31], index=False)
            sheet = book.sheets[name[:31]]
            sheet.freeze_panes(1, 0)
            for i, col in enumerate(frame.columns):
                sheet.set_column(i, i, min(40, max(10, 2 * len(str(col)) + 2)))


def gpkg_safe(gdf: GeoDataFrame) -> GeoDataFrame:
    """Column types GDAL's GeoPackage writer takes: text with None, nullable booleans as numbers."""
    df = gdf.copy()
    for col in df.columns:
        if col == df.geometry.name:
            continue
        kind = str(df[col].dtype)
        if kind in ("string", "object", "category", "str"):
            df[col] = df[col].astype(object).where(df[col].notna(), None)
        elif kind == "boolean":
            df[col] = df[col].astype("float64")
    df.columns = [str(c).replace(":", "__") for c in df.columns]
    return df


def write_layers(layers: Mapping[str, GeoDataFrame], path: Path) -> None:
    """Each non-empty layer into the GeoPackage ``path``."""
    for name, layer in layers.items():
        if layer is not None and len(layer):
            gpkg_safe(layer).to_file(path, layer=name, driver="GPKG")
