"""Checks on the command line's overrides themselves, before Hydra composes them: what the
composed config can no longer tell (OmegaConf has already turned the value into another)."""

from __future__ import annotations

from runner.errors import UserError


def check_override_types(args: list) -> None:
    """Refuse a number other than 0 or 1 for a true/false key. OmegaConf reads any integer as a
    bool, so `trainer.log_steps=10` (meant as 'every 10 steps') silently meant true."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from runner.config.schema import leaf_types

    flags = {k for k, t in leaf_types().items() if t is bool}
    parser = OverridesParser.create()
    for arg in (a for a in args if "=" in a and not a.startswith("-")):
        try:
            o = parser.parse_override(arg)
        except Exception:  # noqa: BLE001 - Hydra reports the syntax error its own way
            continue
        if o.key_or_group not in flags or o.is_delete():
            continue
        for v in o.sweep_iterator() if o.is_sweep_override() else [o.value()]:
            if type(v) is int and v not in (0, 1):
                raise UserError(f"{o.key_or_group}: expected true or false, got {v}")
