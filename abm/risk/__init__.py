"""A market maker's risk management: regimes, limits, rebalancing and hedging."""
