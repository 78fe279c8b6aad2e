"""The README starts with the two commands, and CI runs the second one verbatim."""
import re

from conftest import ROOT


def readme_commands():
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```(?:bash|sh)?\n(.+?)\n```", text, flags=re.S)


def test_the_readme_starts_with_exactly_two_commands():
    first, second = readme_commands()[:2]
    assert "\n" not in first and "\n" not in second
    assert first.endswith("-m metods_sim protocols/harlow.yaml")
    assert second.endswith("-m pytest")
    assert "torch==2.13.0" in first and "torch==2.13.0" in second


def test_ci_runs_the_readme_test_command():
    second = readme_commands()[1]
    assert second in (ROOT / ".ci" / "run").read_text().splitlines()
