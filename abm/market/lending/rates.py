"""The kinked (two-slope) utilisation interest-rate model and per-block compounding.

Utilisation is ``U = borrowed / supplied``. The borrow rate (per year) rises slowly up to the
kink ``U*`` (the optimal utilisation) and steeply above it (Aave v2 ``DefaultReserveInterestRate
Strategy``; Compound's ``JumpRateModel``)::

    r(U) = base + slope1 * U / U*                               for U <= U*
    r(U) = base + slope1 + slope2 * (U - U*) / (1 - U*)         for U >  U*

Suppliers earn ``r(U) * U * (1 - reserve_factor)``: the borrowers' interest less the reserves'
share, spread over every supplied unit. All rates are RAY integers, rounded down.

Interest compounds once per block: a block of ``dt`` seconds multiplies the borrow index by
``1 + r * dt / SECONDS_PER_YEAR`` (rounded up, in the pool's favour), so after blocks of rates
``r_b`` the index is ``prod(1 + r_b * dt)``, which tends to ``exp(r t)`` for a constant rate.
"""

from __future__ import annotations

from dataclasses import dataclass

from abm.market.lending.params import BPS, RAY, SECONDS_PER_YEAR, LendingError, shown, to_ray

__all__ = ["KinkedRateModel", "block_growth_ray"]


@dataclass(frozen=True, slots=True)
class KinkedRateModel:
    """A two-slope borrow-rate curve, every field a RAY integer (use `KinkedRateModel.of`).

    Attributes:
        base_rate_ray: Borrow rate at zero utilisation, per year.
        slope1_ray: Rate added between zero utilisation and the kink.
        slope2_ray: Rate added between the kink and full utilisation.
        optimal_utilisation_ray: The kink ``U*``, strictly between 0 and 1.

    Raises:
        LendingError: For a field that is not a non-negative integer, or a kink outside (0, 1).
    """

    base_rate_ray: int
    slope1_ray: int
    slope2_ray: int
    optimal_utilisation_ray: int

    def __post_init__(self) -> None:
        for name in ("base_rate_ray", "slope1_ray", "slope2_ray", "optimal_utilisation_ray"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise LendingError(
                    f"{name}: must be a non-negative RAY integer, got {shown(value)}"
                )
        if not 0 < self.optimal_utilisation_ray < RAY:
            raise LendingError(
                "optimal_utilisation_ray: must be strictly between 0 and RAY, got "
                f"{self.optimal_utilisation_ray}"
            )

    @classmethod
    def of(
        cls,
        base_rate: object = 0.0,
        slope1: object = 0.04,
        slope2: object = 0.75,
        optimal_utilisation: object = 0.8,
    ) -> KinkedRateModel:
        """The model from plain fractions per year (defaults: Aave v2's stablecoin curve shape)."""
        return cls(
            to_ray(base_rate, "base_rate"),
            to_ray(slope1, "slope1"),
            to_ray(slope2, "slope2"),
            to_ray(optimal_utilisation, "optimal_utilisation"),
        )

    def borrow_rate_ray(self, utilisation_ray: int) -> int:
        """Borrow rate per year (RAY) at a utilisation (RAY, clipped to [0, 1]), rounded down."""
        u = min(max(utilisation_ray, 0), RAY)
        kink = self.optimal_utilisation_ray
        if u <= kink:
            return self.base_rate_ray + self.slope1_ray * u // kink
        return self.base_rate_ray + self.slope1_ray + self.slope2_ray * (u - kink) // (RAY - kink)

    def supply_rate_ray(self, utilisation_ray: int, reserve_factor_bps: int) -> int:
        """Supply rate per year (RAY): ``r(U) * U * (1 - reserve_factor)``, rounded down."""
        u = min(max(utilisation_ray, 0), RAY)
        return self.borrow_rate_ray(u) * u * (BPS - reserve_factor_bps) // (RAY * BPS)


def utilisation_ray(borrowed: int, supplied: int) -> int:
    """``borrowed / supplied`` in RAY, rounded down; zero for an empty pool."""
    return borrowed * RAY // supplied if supplied > 0 else 0


def block_growth_ray(rate_ray: int, dt_seconds: int) -> int:
    """One block's growth factor ``1 + r * dt / year`` in RAY, rounded up (debts grow up)."""
    return RAY + -(-rate_ray * dt_seconds // SECONDS_PER_YEAR)
