"""The configuration floor: what a user writes, validated once into typed, frozen
objects, before any model sees it.

- :mod:`.schema`: the scenario (``Scenario``) and its sections, ``load_scenario``;
- :mod:`.distributions`: the sampling distributions a config names, with their draws;
- :mod:`.week`: the simulation calendar (minutes from Monday 00:00) rosters are written in;
- :mod:`.documents`: reading YAML documents and their ``base`` files;
- :mod:`.paths`: dotted paths into a document (``callbacks.order``);
- :mod:`.limits`: the bounds every magnitude is held to;
- :mod:`.assumptions`: the declared assumptions and their plausible ranges;
- :mod:`.reference`: the table of every config key (``station-sim config-keys``);
- :mod:`.errors`: the one kind of error a user's input gets (``ConfigError``).
"""

from sim.config.schema import (
    RESERVED_POPULATION,
    Scenario,
    load_scenario,
    override_document,
    scenario_from_dict,
)

__all__ = [
    "RESERVED_POPULATION",
    "Scenario",
    "load_scenario",
    "override_document",
    "scenario_from_dict",
]
