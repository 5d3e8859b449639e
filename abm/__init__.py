"""abm: an agent-based market microstructure simulator."""
