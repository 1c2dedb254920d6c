"""The user guide shows what its command takes: every picture it names is in docs/img and written by
docs/screenshots.py, and the script writes no picture the guide or the README leaves out."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_guide_and_the_screenshot_command_agree() -> None:
    guide = (ROOT / "docs" / "USER_GUIDE.md").read_text()
    readme = (ROOT / "README.md").read_text()
    script = (ROOT / "docs" / "screenshots.py").read_text()
    shown = set(re.findall(r"\(img/([\w-]+)\.png\)", guide)) | set(
        re.findall(r"docs/img/([\w-]+)\.png", readme)
    )
    taken = set(re.findall(r'shot\([a-z]+, "([\w-]+)"', script)) | set(
        re.findall(r'OUT / "([\w-]+)\.png"', script)
    )
    assert shown and shown == taken
    for name in shown:
        assert (ROOT / "docs" / "img" / f"{name}.png").stat().st_size > 10_000, name
    assert "python3 dev.py screenshots" in guide and "python3 dev.py screenshots" in readme
