"""PDF renderer: the HTML report printed with WeasyPrint (A4, "page X of Y", the tenant
and report date in the page header, the audit-chain head in the footer; print rules
live in ``templates/report.css``).

WeasyPrint may fetch nothing: the fetcher refuses every URL (the HTML references none;
this holds even if a template ever did). Its warnings (and fontTools' while subsetting
fonts) go to the ``fleetwarden.reports.pdf`` logger at DEBUG instead of stderr.

Must not: lay out anything itself (the HTML renderer does), or touch the network or disk.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

from fleetwarden.domain.compliance.report import ComplianceReport
from fleetwarden.domain.compliance.summary import SummaryReport
from fleetwarden.entrypoints.reports import html
from fleetwarden.entrypoints.reports._common import limit_entries

log = logging.getLogger("fleetwarden.reports.pdf")

ENTRIES_PER_REQUIREMENT = 25
"""Device entries printed per requirement (the worst; the counts stay complete)."""
ENTRIES_TOTAL = 1000
"""Device entries printed in all. WeasyPrint needs 0.15-0.3 s of CPU and ~3 MB of memory
per page (~9 entries or ~14 requirements a page) and holds every page until the end:
30,000 entries would be ~3,400 pages, ~9 minutes and ~11 GB. With these bounds 900
requirements with 100 failing devices each print as ~175 pages in ~30 s and ~0.7 GB."""

_NOISY = ("weasyprint", "fontTools")
"""Libraries that log per-glyph and per-CSS-rule warnings while printing."""


class _Forward(logging.Handler):
    """Hands a library's records to our logger at DEBUG, once, with its origin."""

    def emit(self, record: logging.LogRecord) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s: %s", record.name, record.getMessage())


def _quiet() -> None:
    """Stop WeasyPrint and fontTools printing to stderr through the root logger; their
    errors (an unreadable resource, a broken font) still reach our log at DEBUG."""
    for name in _NOISY:
        lib = logging.getLogger(name)
        if not any(isinstance(h, _Forward) for h in lib.handlers):
            lib.addHandler(_Forward())
        lib.propagate = False


_quiet()  # before the import: WeasyPrint logs while building its own stylesheets

with warnings.catch_warnings():
    # Raised at import when the host lacks libharfbuzz-subset (Debian:
    # libharfbuzz-subset0); WeasyPrint then subsets fonts with fontTools, slower but
    # correct. A host matter for the installer, not a fault of the report.
    warnings.filterwarnings("ignore", message="HarfBuzz-Subset will be required",
                            category=DeprecationWarning)
    import weasyprint
    from weasyprint.urls import URLFetcher


class _NoFetch(URLFetcher):
    """Refuses every URL: a report is self-contained."""

    def fetch(self, url: str, headers: Any = None) -> Any:
        raise ValueError(f"report rendering fetches nothing ({url[:40]!r} refused)")


def html_to_pdf(text: str) -> bytes:
    document = weasyprint.HTML(string=text, base_url=None, url_fetcher=_NoFetch(),
                               media_type="print")
    pdf = document.write_pdf()
    assert isinstance(pdf, bytes)
    return pdf


def render_compliance(report: ComplianceReport) -> bytes:
    """At most ``ENTRIES_PER_REQUIREMENT`` entries per requirement and ``ENTRIES_TOTAL``
    in all are printed (the counts stay complete); the cover says so when it cuts."""
    shown, cut = limit_entries(report, ENTRIES_PER_REQUIREMENT, ENTRIES_TOTAL)
    note = (f"This PDF lists at most {ENTRIES_PER_REQUIREMENT} device entries per "
            f"requirement and {ENTRIES_TOTAL:,} in all; {cut:,} more are in the CSV, JSON "
            f"and OSCAL exports of the same report.") if cut else None
    return html_to_pdf(html.compliance_html(shown, note=note))


def render_summary(report: SummaryReport) -> bytes:
    return html_to_pdf(html.summary_html(report))
