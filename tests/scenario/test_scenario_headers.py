"""The comment block at the top of every shipped scenario (scenarios/**/*.yaml) has one format.

The header is every line before the first line that is not a comment. Paragraphs are separated
by a bare ``#`` line. The format, which the report opens with:

- line 1: a title (``# <what this scenario is>``), then a bare ``#``;
- a paragraph starting ``# Question:``;
- optionally a paragraph starting ``# Set-up:``;
- a paragraph starting ``# Expected outcome (measured, ...):``, the parenthesis saying the seeds
  and the number of steps the numbers were measured on;

in that order. A header that quotes P&L terms (spread capture, adverse selection) states their
sign convention. Whether the numbers are true of the run is checked by the studies' own tests
(test_flash_crash.py, test_crisis_scenarios.py, ...); here only the form is.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
SHIPPED = sorted(SCENARIOS.rglob("*.yaml"))
IDS = [str(path.relative_to(SCENARIOS)) for path in SHIPPED]
OUTCOME = re.compile(r"^Expected outcome \(measured[^)]*\bsteps?\b[^)]*\):")
PNL_TERMS = ("spread capture", "adverse selection", "rebalancing cost", "hedge costs")


def _header(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    end = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    return lines[:end]


def _paragraphs(path: Path) -> list[str]:
    """Every paragraph after the title, its lines joined without their ``#``."""
    paragraphs: list[list[str]] = []
    for line in _header(path)[1:]:
        if line == "#":
            paragraphs.append([])
        elif paragraphs:
            paragraphs[-1].append(line.removeprefix("#").strip())
    return [" ".join(lines) for lines in paragraphs if lines]


def _index(paragraphs: list[str], prefix: str) -> int:
    return next((i for i, text in enumerate(paragraphs) if text.startswith(prefix)), -1)


def test_scenario_headers_cover_the_shipped_scenarios() -> None:
    """The parametrised checks below see the scenarios directory (the baseline among them)."""
    assert SCENARIOS / "baseline.yaml" in SHIPPED
    assert len(SHIPPED) >= 20


@pytest.mark.parametrize("path", SHIPPED, ids=IDS)
def test_scenario_header_opens_with_a_title_line(path: Path) -> None:
    """Line 1 is ``# <title>`` (not a labelled paragraph), and a bare ``#`` follows it."""
    header = _header(path)
    assert len(header) >= 2 and header[1] == "#", header[:2]
    title = header[0].removeprefix("# ").strip()
    assert header[0].startswith("# ") and title, header[0]
    assert not title.startswith(("Question:", "Set-up:", "Expected outcome")), title


@pytest.mark.parametrize("path", SHIPPED, ids=IDS)
def test_scenario_header_has_a_question_paragraph_after_the_title(path: Path) -> None:
    """The first paragraph after the title starts ``# Question:``."""
    assert _index(_paragraphs(path), "Question:") == 0, _paragraphs(path)[:1]


@pytest.mark.parametrize("path", SHIPPED, ids=IDS)
def test_scenario_header_has_a_measured_expected_outcome_paragraph(path: Path) -> None:
    """Some paragraph starts ``# Expected outcome (measured, ... steps ...):``."""
    paragraphs = _paragraphs(path)
    assert any(OUTCOME.match(text) for text in paragraphs), [p[:80] for p in paragraphs]


@pytest.mark.parametrize("path", SHIPPED, ids=IDS)
def test_scenario_header_orders_question_setup_outcome(path: Path) -> None:
    """Question, then the optional Set-up, then Expected outcome."""
    openings = [text[:40] for text in _paragraphs(path)]
    question = _index(openings, "Question:")
    setup = _index(openings, "Set-up:")
    outcome = _index(openings, "Expected outcome")
    assert 0 <= question < outcome, openings
    assert setup == -1 or question < setup < outcome, openings
    assert sum(text.startswith("Expected outcome") for text in openings) == 1, openings


@pytest.mark.parametrize("path", SHIPPED, ids=IDS)
def test_scenario_header_states_sign_convention_of_pnl_terms(path: Path) -> None:
    """A header that names a P&L decomposition term says which sign is a gain."""
    text = " ".join(line.removeprefix("#").strip() for line in _header(path)).lower()
    if any(term in text for term in PNL_TERMS):
        assert "sign convention" in text


@pytest.mark.parametrize("path", SHIPPED, ids=IDS)
def test_scenario_header_reaches_the_report(path: Path) -> None:
    """The report's own header reader finds a question and an expected outcome in every file."""
    from analysis.report_document import scenario_question_and_outcome

    question, outcome = scenario_question_and_outcome(path.read_text(encoding="utf-8"))
    assert question is not None and question.lines, "the report would show no question"
    assert outcome is not None and outcome.lines, "the report would show no expected outcome"
    assert outcome.label.startswith("Expected outcome (measured")
