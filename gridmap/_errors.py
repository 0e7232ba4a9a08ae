"""Problems found in input data, and the errors that carry them.

Every problem names where it is (file, layer, column, row) and how to fix it.
Validation collects all of them first, then raises one :class:`InputError`
when any is fatal, the way osmnx's ``_validate`` does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["Problem", "InputError", "GeographicCRSError", "format_problems"]


@dataclass(frozen=True)
class Problem:
    """One problem in the input.

    Attributes
    ----------
    severity : str
        ``"error"`` (the input is unusable), ``"warning"`` (the run goes on; the
        problem is reported) or ``"info"`` (a repair that was made).
    code : str
        A stable identifier such as ``"crs.missing"``.
    message, fix : str
        What is wrong and how to fix it (Chinese, often with English).
    file, layer, column : str
        Where the problem is ("" when it is not about one).
    row : object
        The source row label (the pandas index of the layer as read), or None.
    extra : dict
        Machine-readable detail (not compared, not printed).
    param : str
        The API parameter the fix is about (e.g. ``"households_crs"``), or "".
        Messages name it as a keyword (``households_crs="gcj02"``); the command
        line prints its flag instead (``--households-crs gcj02``).
    """

    severity: str
    code: str
    message: str
    fix: str = ""
    file: str = ""
    layer: str = ""
    column: str = ""
    row: object = None
    extra: dict = field(default_factory=dict, compare=False)
    param: str = ""

    def where(self) -> str:
        """File, layer, column and row, as far as they are known (Chinese labels)."""
        parts = []
        if self.file:
            parts.append(f"文件 {self.file}")
        if self.layer:
            parts.append(f"图层 {self.layer}")
        if self.column:
            parts.append(f"列 {self.column}")
        if self.row is not None:
            parts.append(f"行 {self.row}")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        text = f"[{self.severity}] {self.code}: {self.message}"
        if where:
            text += f" ({where})"
        if self.fix:
            text += f" 修正方法 / fix: {self.fix}"
        return text

    def to_dict(self) -> dict:
        """The fields as a dict, ``row`` as text (for tables and JSON)."""
        d = asdict(self)
        d["row"] = None if self.row is None else str(self.row)
        return d


def format_problems(problems: list[Problem]) -> str:
    """One line per problem, errors first.

    Parameters
    ----------
    problems : list of Problem

    Returns
    -------
    str
    """
    order = {"error": 0, "warning": 1, "info": 2}
    return "\n".join(str(p) for p in sorted(problems, key=lambda p: order.get(p.severity, 3)))


class InputError(ValueError):
    """The input cannot be used. ``problems`` lists every problem found.

    Parameters
    ----------
    problems : list of Problem, Problem or str
        Every problem found; a string becomes one error with the code ``"input"``.
    """

    def __init__(self, problems: list[Problem] | Problem | str) -> None:
        if isinstance(problems, str):
            problems = [Problem("error", "input", problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems = list(problems)
        super().__init__(format_problems(self.problems))


class GeographicCRSError(ValueError):
    """A length or area was asked for on a geographic (degree) CRS."""
