"""The SolaraViz dashboard (``abm dashboard``) and the model wrapper it drives."""
