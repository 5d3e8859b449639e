"""Contagion between market makers: the engine, its network builders and the clearing math."""
