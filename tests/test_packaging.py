"""A regular (non-editable) install carries every config file that conf/ holds."""
from __future__ import annotations

import re

from conftest import REPO


def test_every_conf_file_is_installed_as_data():
    text = (REPO / "pyproject.toml").read_text()
    section = text.split("[tool.setuptools.data-files]", 1)[1].split("\n[", 1)[0]
    patterns = re.findall(r'=\s*\["([^"]+)"\]', section)
    covered = {p for pattern in patterns for p in REPO.glob(pattern)}
    files = {p for p in (REPO / "conf").rglob("*") if p.is_file()}
    missing = sorted(str(p.relative_to(REPO)) for p in files - covered)
    assert not missing, f"conf files a regular install would lack: {missing}"
