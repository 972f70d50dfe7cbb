"""How FDA laid out each quarter's files: names, folders, line endings, trailing ``$``.

These are byte-level facts a reader must cope with (faers-format.md, "Inside the zip");
where FDA's exact switch-over quarter is not documented the simulator picks one and says so.
"""

from __future__ import annotations

from pv.faers.layouts import era_of_quarter, header_for

CRLF = "\r\n"
LF = "\n"


def era(y: int, q: int) -> str:
    return era_of_quarter(y, q)


def zip_name(y: int, q: int) -> str:
    """`aers_ascii_2005q1.zip` (legacy, lower q) / `faers_ascii_2023q2.zip` / `..._2023Q4.zip`
    (FAERS: upper Q for Q3 and Q4 - the case varies between quarters)."""
    if era(y, q) == "laers":
        return f"aers_ascii_{y}q{q}.zip"
    return f"faers_ascii_{y}{'Q' if q >= 3 else 'q'}{q}.zip"


def member_name(table: str, y: int, q: int) -> str:
    """Path of a table inside the zip.

    Simulator's choice of FDA's observed variants: legacy `ascii/DEMO04Q1.TXT` until 2008,
    `ascii/DEMO10Q1.txt` after; `ascii/demo12q4.txt` (lower case) in 2012Q4-2013Q4;
    `ascii/DEMO14Q1.txt` to 2017; `ascii/DEMO18Q1_new.txt` in 2018Q1; `ASCII/DEMO18Q2.txt` after.
    """
    yy = f"{y % 100:02d}"
    if era(y, q) == "laers":
        return f"ascii/{table}{yy}Q{q}.TXT" if y <= 2008 else f"ascii/{table}{yy}Q{q}.txt"
    if (y, q) <= (2013, 4):
        return f"ascii/{table.lower()}{yy}q{q}.txt"
    if (y, q) == (2018, 1):
        return f"ascii/{table}{yy}Q{q}_new.txt"
    if y <= 2017:
        return f"ascii/{table}{yy}Q{q}.txt"
    return f"ASCII/{table}{yy}Q{q}.txt"


def deleted_members(y: int, q: int) -> list[str]:
    """Deleted-case lists shipped with a quarter (from 2019Q1; 2019Q1 also the whole history)."""
    yy = f"{y % 100:02d}"
    if (y, q) < (2019, 1):
        return []
    if y <= 2020:
        names = [f"deleted/ADR{yy}Q{q}DeletedCases.txt"]
        if (y, q) == (2019, 1):
            names.append("deleted/AllDeletedCases.txt")
        return names
    if y <= 2024:
        return [f"Deleted/{yy}Q{q}DeletedCases.txt"]
    return [f"Deleted/DELETE{yy}Q{q}.txt"]


def deleted_starts_with_space(member: str, y: int, q: int) -> bool:
    """Some lists start with a line holding one space (all `DELETE*` files, odd quarters)."""
    return "DELETE" in member or (q % 2 == 1 and "AllDeleted" not in member)


def line_ending(table: str, y: int, q: int) -> str:
    """Simulator's choice: legacy CRLF; FAERS LF until 2022; from 2023 CRLF except THER/RPSR."""
    e = era(y, q)
    if e == "laers":
        return CRLF
    if y <= 2022:
        return LF
    return LF if table in ("THER", "RPSR") else CRLF


def row_trailing_dollar(y: int, q: int) -> bool:
    """Legacy data rows end with one extra `$` the header lacks; FAERS rows and headers end
    without one (as in the genuine 2012Q4, 2020Q3 and 2026Q2 rows)."""
    return era(y, q) == "laers"


def utf8(table: str, y: int, q: int) -> bool:
    """DRUG files from 2020 on are written as UTF-8 (FDA's current files are), so letters
    outside Latin-1 (Greek mu in "500 μg") fit; every other file is Latin-1 bytes."""
    return table == "DRUG" and (y, q) >= (2020, 1)


def has_bom(table: str, y: int, q: int) -> bool:
    return (y, q) == (2012, 4) and table == "DRUG"


def header_line(table: str, y: int, q: int) -> str:
    cols = header_for(table, y, q)
    return "$".join(cols)
