"""Where dlrun's configs are, and the config a `dlrun <overrides>` command would run with,
composed without running it (for studies' tests, benchmarks and tools).

conf/ sits at the top of the repository for readers; a build copies it into the package as
runner/conf (setup.py), so a wheel, `pip install --user` and `pip install --target` all carry it.
"""

from __future__ import annotations

from pathlib import Path

from runner.errors import UserError

PACKAGE = Path(__file__).resolve().parent.parent  # runner/


def conf_dir() -> Path:
    """runner/conf in an installed package; the repository's conf/ in a checkout or an editable
    install. A UserError names both places when neither holds config.yaml."""
    for candidate in (PACKAGE / "conf", PACKAGE.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise UserError(
        f"dlrun's configs are missing: no config.yaml in {PACKAGE / 'conf'} (an installed package) "
        f"or {PACKAGE.parent / 'conf'} (a checkout); reinstall dlrun"
    )


def compose(overrides, hydra_config: bool = False):
    """The composed config for these command-line overrides, not yet validated or expanded
    (runner.config.validate.prepare does both)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from runner.config.schema import register

    register()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base=None):
        return hydra_compose("config", overrides=list(overrides), return_hydra_config=hydra_config)
