"""Reading an option surface from CSV (abm.derivatives.surface)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from abm.derivatives.surface import MAX_SURFACE_BYTES, SurfaceError, read_surface

SHIPPED = Path(__file__).resolve().parents[1] / "data" / "derivatives" / "heston_surface.csv"


def test_read_surface_reads_the_shipped_example() -> None:
    """28 quotes over 4 expiries, puts below the spot of 100 and calls from it, one market."""
    surface = read_surface(SHIPPED)
    assert (surface.n_points, surface.n_expiries) == (28, 4)
    assert (surface.spot, surface.rate, surface.dividend) == (100.0, 0.02, 0.01)
    np.testing.assert_array_equal(surface.is_call, surface.strike >= 100.0)
    assert surface.implied_vol is None and surface.weight is None


def test_read_surface_skips_comments_and_blank_lines_and_counts_file_lines(tmp_path: Path) -> None:
    """# lines and blank lines are skipped; an error names the file's own line number."""
    path = tmp_path / "s.csv"
    path.write_text("# note\n\nexpiry,strike,implied_vol\n1,100,0.2\n\n# x\n1,-90,0.2\n")
    with pytest.raises(SurfaceError, match=r"line 7: strike: must be positive"):
        read_surface(path, spot=100.0)


def test_read_surface_defaults_rate_dividend_and_type(tmp_path: Path) -> None:
    """Without rate, dividend and type: 0, 0 and calls; implied_vol and weight columns are read."""
    path = tmp_path / "s.csv"
    path.write_text("strike,expiry,implied_vol,weight\n100,1,0.2,2\n110,0.5,0.25,1\n")
    surface = read_surface(path, spot=95.0)
    assert (surface.rate, surface.dividend) == (0.0, 0.0)
    assert surface.is_call.tolist() == [True, True]
    assert surface.implied_vol is not None and surface.implied_vol.tolist() == [0.2, 0.25]
    assert surface.weight is not None and surface.weight.tolist() == [2.0, 1.0]


def test_read_surface_requires_a_spot(tmp_path: Path) -> None:
    """No spot column and no spot argument: one error saying how to give it."""
    path = tmp_path / "s.csv"
    path.write_text("expiry,strike,price\n1,100,5\n")
    with pytest.raises(SurfaceError, match="spot: missing: add a spot column or pass --spot"):
        read_surface(path)


def test_read_surface_refuses_both_price_and_implied_vol(tmp_path: Path) -> None:
    """A surface quotes prices or implied vols, not both."""
    path = tmp_path / "s.csv"
    path.write_text("expiry,strike,price,implied_vol,spot\n1,100,5,0.2,100\n")
    with pytest.raises(SurfaceError, match="exactly one of the columns"):
        read_surface(path)


def test_read_surface_refuses_a_file_over_the_size_limit(tmp_path: Path) -> None:
    """A file larger than MAX_SURFACE_BYTES is refused without being read whole."""
    path = tmp_path / "big.csv"
    path.write_bytes(b"#" * (MAX_SURFACE_BYTES + 1))
    with pytest.raises(SurfaceError, match="larger than"):
        read_surface(path)


def test_read_surface_refuses_a_binary_file(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 are one error naming the file."""
    path = tmp_path / "s.csv"
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(SurfaceError, match="not a UTF-8 text file"):
        read_surface(path)


def test_read_surface_refuses_a_short_row(tmp_path: Path) -> None:
    """A row with fewer fields than the header names its line."""
    path = tmp_path / "s.csv"
    path.write_text("expiry,strike,price,spot\n1,100,5,100\n1,100\n")
    with pytest.raises(SurfaceError, match="line 3: 2 fields, the header has 4"):
        read_surface(path)
