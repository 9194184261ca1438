"""The downloadable report of an import: every failed and skipped row with its reason
and its cells as read, as CSV.

Spreadsheet programs run a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in
some, a tab or a carriage return) as a formula, so a file someone uploads could make
the report run ``=HYPERLINK(...)`` on a colleague's machine. Such cells are written
with a leading apostrophe, which spreadsheets show as plain text.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator

from flask_babel import gettext as _

from app.imports.models import ImportJob, ImportRowIssue

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """``value`` as text that no spreadsheet runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def report_csv(job: ImportJob, issues: Iterable[ImportRowIssue]) -> Iterator[str]:
    """The report as CSV text, a line at a time (a million failed rows stream)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(cells: list[object]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([safe_cell(c) for c in cells])
        return buffer.getvalue()

    # A BOM, so that spreadsheet programs read the UTF-8 as UTF-8.
    yield "\ufeff" + line([_("Row"), _("Outcome"), _("Reason"), *job.headers])
    outcomes = {"failed": _("failed"), "skipped": _("skipped")}
    for issue in issues:
        yield line([issue.row_number, outcomes.get(issue.outcome, issue.outcome), issue.reason,
                    *issue.cells])  # fmt: skip


def report_body(job: ImportJob, issues: Iterable[ImportRowIssue]) -> Iterator[bytes]:
    """The report as a response body. It is written first, to a temporary file (in
    memory while small), while the request still holds its tenant binding; the body
    then reads that file back and closes it."""
    spooled = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    for line in report_csv(job, issues):
        spooled.write(line.encode("utf-8"))
    spooled.seek(0)

    def chunks() -> Iterator[bytes]:
        try:
            while data := spooled.read(64 * 1024):
                yield data
        finally:
            spooled.close()

    return chunks()
