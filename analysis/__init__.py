"""Analysis of abm runs: pure functions over RunResult tables."""
