"""The embedded simulator's fault and variant names in a run's settings, checked against the
catalogs: the simulator's own check, which the commands that start it call once the
settings are loaded (core knows nothing of the simulator)."""

from __future__ import annotations

from redcloud_check.core.config import Settings
from redcloud_check.core.errors import ConfigError

__all__ = ["check_names"]


def check_names(settings: Settings) -> Settings:
    """`settings`, once RC_SIM_FAULTS and RC_SIM_VARIANTS name only faults and variants the
    simulator has; ConfigError naming the setting and the valid names otherwise."""
    if settings.sim_faults:
        from redcloud_check.simulator.catalog import validate_faults

        _check("RC_SIM_FAULTS", lambda: validate_faults(settings.sim_faults))
    if settings.sim_variants:
        from redcloud_check.simulator.catalog import validate_variants

        _check("RC_SIM_VARIANTS", lambda: validate_variants(settings.sim_variants))
    return settings


def _check(env: str, validate: object) -> None:
    try:
        validate()  # type: ignore[operator]
    except ValueError as error:
        raise ConfigError(env, str(error)) from None
