"""Many runs: sweeps (plan, store, executor), run comparison and the shipped studies."""
