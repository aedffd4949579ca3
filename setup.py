"""Build hook (the rest of the metadata is in pyproject.toml): copy conf/ into the package as
runner/conf, so every kind of install (a wheel, `pip install --user`, `pip install --target`)
carries its configs. Checkouts and editable installs read conf/ at the top of the repository
(runner.config.compose.conf_dir)."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithConf(build_py):
    def run(self):
        super().run()
        if not self.editable_mode:
            self.copy_tree("conf", str(Path(self.build_lib) / "runner" / "conf"))


setup(cmdclass={"build_py": BuildWithConf})
