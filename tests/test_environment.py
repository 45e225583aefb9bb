"""environment.yml pins the same packages as pyproject.toml."""

import re
import tomllib
from pathlib import Path

import pytest
import yaml

REPO_DIR = Path(__file__).resolve().parents[1]

# name[extras]==version, the only form of pin the two files use.
PIN_PATTERN = re.compile(r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*==\s*(?P<version>[^\s;]+)\s*$")


def normalise_name(name: str) -> str:
    """Return the PEP 503 normalised form of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pins(requirements: list[str], source: str) -> dict[str, str]:
    """Map each normalised package name to its pinned version.

    Raises:
        AssertionError: if a requirement is not an exact ``==`` pin or a
            package is pinned twice.
    """
    pins = {}
    for requirement in requirements:
        match = PIN_PATTERN.match(requirement)
        assert match, f"{source}: {requirement!r} is not an exact pin of the form name==version"
        name = normalise_name(match["name"])
        assert name not in pins, f"{source}: {name} is pinned twice"
        pins[name] = match["version"]
    return pins


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((REPO_DIR / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def environment() -> dict:
    return yaml.safe_load((REPO_DIR / "environment.yml").read_text())


def pyproject_pins(pyproject: dict) -> dict[str, str]:
    requirements = list(pyproject["project"]["dependencies"])
    for extra_requirements in pyproject["project"].get("optional-dependencies", {}).values():
        requirements.extend(extra_requirements)
    return parse_pins(requirements, "pyproject.toml")


def environment_pins(environment: dict) -> dict[str, str]:
    pip_sections = [entry["pip"] for entry in environment["dependencies"] if isinstance(entry, dict) and "pip" in entry]
    assert len(pip_sections) == 1, "environment.yml must have exactly one pip: section"
    # Lines starting with "-" are pip options, such as the editable install of this project.
    requirements = [line for line in pip_sections[0] if not line.startswith("-")]
    return parse_pins(requirements, "environment.yml")


def test_every_pyproject_pin_matches_environment(pyproject, environment):
    expected = pyproject_pins(pyproject)
    actual = environment_pins(environment)

    for name, version in expected.items():
        assert name in actual, f"environment.yml does not pin {name} (pyproject.toml: {version})"
        assert actual[name] == version, f"{name}: pyproject.toml pins {version}, environment.yml {actual[name]}"


def test_environment_pins_nothing_extra(pyproject, environment):
    extra = sorted(set(environment_pins(environment)) - set(pyproject_pins(pyproject)))

    assert extra == [], f"environment.yml pins packages that pyproject.toml does not: {extra}"


def test_environment_python_matches_requires_python(pyproject, environment):
    conda_packages = [entry for entry in environment["dependencies"] if isinstance(entry, str)]

    assert "python=3.11" in conda_packages
    assert "pip" in conda_packages
    assert pyproject["project"]["requires-python"] == ">=3.11,<3.12"


def test_environment_installs_this_project(environment):
    pip_section = next(entry["pip"] for entry in environment["dependencies"] if isinstance(entry, dict))

    assert "-e ." in pip_section


@pytest.mark.parametrize(
    "requirement",
    ["torch>=2.0", "numpy", "pandas~=3.1", "scipy==1.17.*; python_version<'3.12'"],
)
def test_parse_pins_rejects_non_exact_requirement(requirement):
    with pytest.raises(AssertionError, match="not an exact pin"):
        parse_pins([requirement], "example")


def test_parse_pins_normalises_names():
    assert parse_pins(["Scikit_Learn==1.9.1", "torch-fidelity[extra]==0.4.0"], "example") == {
        "scikit-learn": "1.9.1",
        "torch-fidelity": "0.4.0",
    }
