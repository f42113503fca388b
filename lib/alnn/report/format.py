"""Formatting of numbers, p-values, lists and words for LaTeX, and atomic file writes."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


# =========================================================================== formatting
def finite(x) -> bool:
    """Whether ``x`` is a finite number (None, NaN, inf and non-numbers are not)."""
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _thousands(s: str) -> str:
    """Group the integer part of a plain number string in threes with {,}."""
    sign, s = ("-", s[1:]) if s.startswith("-") else ("", s)
    whole, _, frac = s.partition(".")
    if len(whole) > 4:
        groups = []
        while whole:
            groups.insert(0, whole[-3:])
            whole = whole[:-3]
        whole = "{,}".join(groups)
    return sign + whole + ("." + frac if frac else "")


def _minus(s: str) -> str:
    return "$-$" + s[1:] if s.startswith("-") else s


def decimals_for(values: Iterable[float], sig: int = 3, most: int = 4) -> int:
    """Decimals that show ``sig`` significant digits of the largest |value|."""
    vals = [abs(float(v)) for v in values if finite(v) and float(v) != 0]
    if not vals:
        return 2
    top = max(vals)
    return int(min(most, max(0, sig - 1 - math.floor(math.log10(top)))))


def num(x, decimals: int | None = None, *, sig: int = 3) -> str:
    """A number for LaTeX text: fixed decimals (or ``sig`` significant digits), thousands grouped."""
    if not finite(x):
        return "\\na"
    x = float(x)
    d = decimals_for([x], sig) if decimals is None else decimals
    s = f"{x:.{d}f}"
    if s.lstrip("-").strip("0.") == "" and s.startswith("-"):
        s = s[1:]
    return _minus(_thousands(s))


def sci(x, digits: int = 2) -> str:
    """Scientific notation for LaTeX text, e.g. ``7.40$\\times$10$^{5}$``."""
    if not finite(x):
        return "\\na"
    mant, exp = f"{float(x):.{digits}e}".split("e")
    return f"{_minus(mant)}$\\times$10$^{{{int(exp)}}}$"


def pct(x, decimals: int = 1, *, sign: bool = False) -> str:
    """A share as a percentage, e.g. ``0.953`` -> ``95.3\\%``."""
    if not finite(x):
        return "\\na"
    s = f"{100 * float(x):{'+' if sign else ''}.{decimals}f}"
    return _minus(s) + "\\%"


def pnum(x, decimals: int = 1, *, sign: bool = False) -> str:
    """A share in percent without the sign, e.g. ``0.953`` -> ``95.3``."""
    if not finite(x):
        return "\\na"
    return _minus(f"{100 * float(x):{'+' if sign else ''}.{decimals}f}")


def p_is(p) -> str:
    """``$p=0.123$`` or ``$p<0.001$``."""
    if not finite(p):
        return "$p$ undefined"
    return "$p<0.001$" if float(p) < 0.001 else f"$p={float(p):.3f}$"


def pval(p) -> str:
    """A p-value: three decimals, or ``<0.001``; four where three would print the 0.05 level itself
    (0.0502 is not significant, and ``0.050 n.s.`` would read as a contradiction)."""
    if not finite(p):
        return "\\na"
    p = float(p)
    if p < 0.001:
        return "$<$0.001"
    return f"{p:.4f}" if f"{p:.3f}" == "0.050" and p != 0.05 else f"{p:.3f}"


def count(x) -> str:
    """A count of patterns or presentations: grouped integer, or k / M for large ones."""
    if not finite(x):
        return "\\na"
    x = float(x)
    if abs(x) >= 1e6:
        return f"{x / 1e6:.{1 if abs(x) < 1e8 else 0}f}M"
    if abs(x) >= 1e4:
        return f"{x / 1e3:.{1 if abs(x) < 1e5 else 0}f}k"
    return _thousands(f"{x:.0f}")


def gnum(x) -> str:
    """A parameter value as given (0.5, 0.001, 512)."""
    if not finite(x):
        return "\\na"
    x = float(x)
    if x == int(x) and abs(x) < 1e6:
        return _thousands(str(int(x)))
    return _minus(f"{x:g}")


def join(items: Sequence[str], last: str = "and") -> str:
    items = list(items)
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + f" {last} " + items[-1]


_WORDS = {0: "no", 1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six",
          7: "seven", 8: "eight", 9: "nine", 10: "ten"}


def words(n: int, zero: str = "no") -> str:
    """A small count in words ("three"); ``zero`` for 0 ("no" or "none")."""
    return zero if int(n) == 0 else _WORDS.get(int(n), str(int(n)))


def capital(s: str) -> str:
    return s[:1].upper() + s[1:] if s else s


def escape(s: str) -> str:
    """``s`` with LaTeX's special characters escaped (for names and descriptions printed as text)."""
    return (str(s).replace("\\", "\\textbackslash{}").replace("&", "\\&").replace("%", "\\%")
            .replace("_", "\\_").replace("#", "\\#").replace("$", "\\$"))


def _key_ok(key: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9/\-.]+", key):
        raise ValueError(f"bad value key {key!r}")
    return key


# =========================================================================== files
def write_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``; a file that already holds
    ``text`` is left as it is (bytes and modification time)."""
    path = Path(path)
    try:
        if path.read_text(encoding="utf-8") == text:
            return path
    except (OSError, UnicodeDecodeError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def csv_atomic(path: Path, frame: pd.DataFrame) -> Path:
    """:func:`write_atomic` of ``frame`` as CSV (no index)."""
    return write_atomic(path, frame.to_csv(index=False))


@dataclass
class Values:
    """Key -> LaTeX string, written as ``\\alnnset{key}{value}`` lines."""
    items: dict[str, str] = field(default_factory=dict)

    def __setitem__(self, key: str, value: str) -> None:
        self.items[_key_ok(key)] = str(value)

    def __getitem__(self, key: str) -> str:
        return self.items[key]

    def __contains__(self, key: str) -> bool:
        return key in self.items

    def tex(self, header: str) -> str:
        lines = [f"% {header}", "% Generated by alnn.report.build: do not edit."]
        for k in sorted(self.items):
            v = self.items[k].replace("\n", " ")
            lines.append(f"\\alnnset{{{k}}}{{{v}}}")
        return "\n".join(lines) + "\n"
