"""spdx-tools' SPDX tag-value parser, with its two quadratic spots replaced.

spdx-tools 0.8.5's tag-value ``Parser`` is used as it is except for two methods:

- ``p_license`` calls ``license_expression.get_spdx_licensing()`` for every licence
  field, which builds the whole SPDX licence index each time (about 0.1 s): 5,000
  packages with one ``PackageLicenseConcluded`` each took 267 s. The override parses
  with the one shared ``Licensing`` the library's JSON parser already uses
  (``spdx_tools.common.spdx_licensing``), so both syntaxes read licences alike.
- ``check_for_preceding_package_and_build_contains_relationship`` adds a CONTAINS
  relationship for each file that follows a package after a linear search of all
  relationships so far (spdx/tools-python#891, quadratic in files). Those
  file relationships are not used by fleetwarden, so none are built.

ply builds the grammar from the subclass's methods (their docstrings are the rules),
in memory: tables are never written to disk (``write_tables=False``) and ply's own
messages are silenced.

Must not: change what a tag-value document means for the fields fleetwarden reads.
"""

from __future__ import annotations

from typing import Any

from license_expression import ExpressionError  # type: ignore[import-untyped]
from ply import yacc  # type: ignore[import-untyped]
from spdx_tools.common.spdx_licensing import (  # type: ignore[import-untyped]
    spdx_licensing,
)
from spdx_tools.spdx.parser.tagvalue.helper_methods import grammar_rule
from spdx_tools.spdx.parser.tagvalue.parser import Parser


class TagValueParser(Parser):
    """One per document (the parser keeps the document's state)."""

    def __init__(self) -> None:
        super().__init__(  # type: ignore[no-untyped-call]
            write_tables=False, debug=False, errorlog=yacc.NullLogger(), start="start")

    @grammar_rule(  # type: ignore[no-untyped-call,untyped-decorator]
        "license_or_no_assertion_or_none : LINE")
    def p_license(self, p: Any) -> None:
        try:
            p[0] = spdx_licensing.parse(p[1])
        except ExpressionError as err:
            message = f"Error while parsing license expression: {p[1]}"
            if err.args:
                message += f": {err.args[0]}"
            self.current_element["logger"].append(message)

    def check_for_preceding_package_and_build_contains_relationship(self) -> None:
        return None
