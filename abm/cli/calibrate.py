"""``abm calibrate heston SURFACE.csv``: fit Heston to an option surface and print the fit.

The surface's columns are documented in `abm.derivatives.surface` and in the command's help;
the fit is `abm.derivatives.calibration.calibrate_heston`. numpy and scipy are imported inside
the command, so building the ``abm`` parser stays light.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from abm.cli.common import positive

SURFACE_HELP = """\
SURFACE is a CSV file, one row per European option quote, with a header naming its columns:
  expiry       years to expiry (> 0)                                  required
  strike       strike (> 0)                                           required
  price        market price (> 0)                  exactly one of price and implied_vol
  implied_vol  Black-Scholes implied volatility (> 0, annual)
  type         call or put (c / p; any case)                          default call
  weight       multiplies the quote's residual (> 0)                  default 1
  spot, rate, dividend   one value per surface: a column (equal on every row) or the flag
                         of the same name, not both; rate and dividend default to 0
Lines starting with # are comments. Example: tests/data/derivatives/heston_surface.csv."""


def register(subparsers: Any) -> None:
    """Add ``abm calibrate`` to ``subparsers`` (the object ``add_subparsers`` returns)."""
    parser = subparsers.add_parser(
        "calibrate",
        help="fit a pricing model (Heston) to an option surface",
        description="Fit Heston (1993)'s parameters (kappa, theta, sigma, rho, v0) to an option "
        "surface by weighted least squares with bounds and several starts; print the "
        "parameters, their standard errors, the Feller condition and the RMSE.",
        epilog=SURFACE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", choices=["heston"], help="the model to fit")
    parser.add_argument("surface", help="the option surface (CSV; columns below)")
    parser.add_argument("--spot", type=float, default=None, help="the underlying's price")
    parser.add_argument("--rate", type=float, default=None, help="continuously compounded rate")
    parser.add_argument("--dividend", type=float, default=None, help="continuous dividend yield")
    parser.add_argument(
        "--target",
        choices=["price", "implied_vol"],
        default=None,
        help="fit prices or implied volatilities (default: the surface's own column)",
    )
    parser.add_argument(
        "--starts", type=int, default=4, help="starting points of the fit (default 4)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seeds the extra starting points (default 0)"
    )
    parser.set_defaults(func=cmd_calibrate)


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Fit the surface ``args.surface`` and print the fit; return 0.

    Raises:
        SurfaceError: The file cannot be read or holds a bad value.
        CalibrationError: The surface cannot identify the parameters.
        CliError: A bad ``--starts``.
    """
    positive("--starts", args.starts)
    from abm.derivatives.calibration import calibrate_heston
    from abm.derivatives.heston import PARAMETER_NAMES
    from abm.derivatives.surface import read_surface

    surface = read_surface(args.surface, spot=args.spot, rate=args.rate, dividend=args.dividend)
    target = args.target or ("price" if surface.price is not None else "implied_vol")
    fit = calibrate_heston(
        surface.spot,
        surface.strike,
        surface.expiry,
        surface.rate,
        surface.dividend,
        price=surface.price,
        implied_vol=surface.implied_vol,
        is_call=surface.is_call,
        weight=surface.weight,
        target=target,
        n_starts=args.starts,
        seed=args.seed,
    )
    print(
        f"heston fit of {args.surface}: {fit.n_points} quotes, {fit.n_expiries} expiries, "
        f"spot {surface.spot:g}, rate {surface.rate:g}, dividend {surface.dividend:g}; "
        f"residuals on {fit.target.value} ({fit.n_starts} starts, seed {args.seed})"
    )
    print(f"  {'parameter':<10}{'value':>14}{'std error':>14}")
    values = fit.params.as_array()
    for name, value, error in zip(PARAMETER_NAMES, values, fit.std_errors, strict=True):
        shown = "on a bound" if math.isnan(error) else f"{error:.3g}"
        print(f"  {name:<10}{value:>14.6f}{shown:>14}")
    params = fit.params
    verdict = "satisfied" if fit.satisfies_feller else "NOT satisfied (the variance can reach 0)"
    print(
        f"Feller: 2 kappa theta = {2 * params.kappa * params.theta:.6g}, sigma^2 = "
        f"{params.sigma**2:.6g}, ratio {fit.feller_ratio:.4g}: {verdict}"
    )
    unit = "price" if fit.target.value == "price" else "implied vol"
    print(
        f"RMSE ({unit}): {fit.rmse:.3g}; Jacobian condition number {fit.condition_number:.3g}; "
        f"at bounds: {', '.join(fit.at_bounds) or 'none'}"
    )
    return 0
