"""The bundled scenarios: this folder is installed as the package data of ``abm.scenarios``.

Look scenarios up by name through `abm.scenario.bundle` (``abm.load_scenario("baseline")``,
``abm run crisis/fire_sale_spiral``); nothing here is meant to be imported.
"""
