"""``abm calibrate heston SURFACE.csv``: the printed fit and its user errors (exit 2, one line)."""

from __future__ import annotations

from pathlib import Path

import pytest

from abm.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
SURFACE = ROOT / "tests" / "data" / "derivatives" / "heston_surface.csv"
HEADER = "expiry,strike,type,price,spot,rate,dividend\n"


def _surface_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")][1:]


def test_cli_calibrate_heston_prints_the_fit_of_the_shipped_surface(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The shipped surface (made from kappa 2, theta 0.06, sigma 0.5, rho -0.7, v0 0.04) fits back.

    Reference: the parameters written in the file's header, printed to 6 decimals.
    """
    assert main(["calibrate", "heston", str(SURFACE), "--starts", "2"]) == 0
    out = capsys.readouterr().out
    assert "28 quotes, 4 expiries" in out
    for name, value in [
        ("kappa", "2.000000"),
        ("theta", "0.060000"),
        ("sigma", "0.500000"),
        ("rho", "-0.700000"),
        ("v0", "0.040000"),
    ]:
        line = next(row for row in out.splitlines() if row.split()[:1] == [name])
        assert line.split()[1] == value
    assert "ratio 0.96: NOT satisfied" in out
    assert "RMSE (price)" in out


def test_cli_calibrate_heston_takes_market_values_as_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without spot/rate/dividend columns, --spot/--rate/--dividend supply them."""
    rows = _surface_rows(SURFACE.read_text(encoding="utf-8"))
    bare = tmp_path / "bare.csv"
    bare.write_text(
        "expiry,strike,type,price\n" + "\n".join(",".join(r.split(",")[:4]) for r in rows) + "\n",
        encoding="utf-8",
    )
    args = [
        "calibrate",
        "heston",
        str(bare),
        "--spot",
        "100",
        "--rate",
        "0.02",
        "--dividend",
        "0.01",
        "--starts",
        "1",
    ]
    assert main(args) == 0
    assert "spot 100, rate 0.02, dividend 0.01" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("expiry,type,price,spot\n1,call,5,100\n", "missing column 'strike'"),
        (HEADER + "1,-100,call,5,100,0,0\n", "line 2: strike: must be positive"),
        (HEADER + "1,100,call,nan,100,0,0\n", "line 2: price: must be finite"),
        (HEADER + "1,100,call,abc,100,0,0\n", "line 2: price: not a number: 'abc'"),
        (HEADER + "1,100,cal,5,100,0,0\n", "line 2: type: must be call or put"),
        (HEADER + "1,100,call,5,100,0,0\n2,100,call,7,101,0,0\n", "line 3: spot: 101.0 differs"),
        ("expiry,strike,price,colour\n1,100,5,red\n", "unknown column 'colour'"),
        ("", "empty"),
        (HEADER, "no quotes after the header"),
        (HEADER + "1,100,call,5,100,0,0\n" * 3, "3 quotes cannot identify"),
        (
            HEADER
            + "".join(
                f"1,{k},call,{p},100,0,0\n"
                for k, p in [(90, 12), (95, 8), (100, 5), (105, 3), (110, 1.5), (115, 0.7)]
            ),
            "one expiry",
        ),
    ],
    ids=[
        "missing-column",
        "negative-strike",
        "nan-price",
        "not-a-number",
        "bad-type",
        "two-spots",
        "unknown-column",
        "empty",
        "header-only",
        "too-few",
        "one-expiry",
    ],
)
def test_cli_calibrate_heston_bad_surface_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    """Each bad surface is one ``abm: error:`` line naming the problem, exit code 2."""
    bad = tmp_path / "bad.csv"
    bad.write_text(content, encoding="utf-8")
    assert main(["calibrate", "heston", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("abm: error: ") and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_cli_calibrate_heston_unreadable_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing file and a directory are one line each naming the path, exit code 2."""
    for path in (tmp_path / "missing.csv", tmp_path):
        assert main(["calibrate", "heston", str(path)]) == 2
        err = capsys.readouterr().err
        assert f"abm: error: {path}: cannot read" in err and "Traceback" not in err


def test_cli_calibrate_heston_refuses_a_market_value_given_twice(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--spot with a spot column is ambiguous: exit 2 and a message naming both."""
    assert main(["calibrate", "heston", str(SURFACE), "--spot", "100"]) == 2
    assert "spot: given both as a column and as --spot" in capsys.readouterr().err


def test_cli_calibrate_heston_refuses_a_non_positive_starts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--starts 0 is a CliError naming the flag (exit 2)."""
    assert main(["calibrate", "heston", str(SURFACE), "--starts", "0"]) == 2
    assert "--starts: must be a positive integer" in capsys.readouterr().err


def test_cli_calibrate_heston_fits_an_implied_vol_surface(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The shipped prices quoted as implied vols fit back on implied vols (the default target).

    Reference: the parameters that made the shipped surface (its header), to 6 decimals.
    """
    from abm.derivatives import implied_volatility
    from abm.derivatives.surface import read_surface

    shipped = read_surface(SURFACE)
    assert shipped.price is not None
    vols = implied_volatility(
        shipped.price, 100.0, shipped.strike, shipped.expiry, 0.02, 0.01, shipped.is_call
    )
    lines = [  # repr of a Python float: every digit
        f"{float(t)!r},{float(k)!r},{'call' if c else 'put'},{float(v)!r}"
        for t, k, c, v in zip(shipped.expiry, shipped.strike, shipped.is_call, vols, strict=True)
    ]
    path = tmp_path / "vols.csv"
    path.write_text("expiry,strike,type,implied_vol\n" + "\n".join(lines) + "\n", encoding="utf-8")
    args = [
        "calibrate",
        "heston",
        str(path),
        "--spot",
        "100",
        "--rate",
        "0.02",
        "--dividend",
        "0.01",
        "--starts",
        "1",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "residuals on implied_vol" in out and "RMSE (implied vol)" in out
    kappa = next(row for row in out.splitlines() if row.split()[:1] == ["kappa"])
    assert kappa.split()[1] == "2.000000"
