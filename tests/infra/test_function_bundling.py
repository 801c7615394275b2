"""The care_rules functions carry their third-party packages (Jinja2, css-inline) and the
tickets functions theirs (holidays) in their own code asset: the requirement list comes
from requirements.txt, local bundling installs the target platform's wheels next to the
package sources, and the other function packages stay plain directory assets. The shared
synth skips bundling (offline); here one small stack is bundled with pip replaced by a
stand-in."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_lambda as lambda_

from infra.constructs import functions
from infra.definitions import ARCHITECTURE, FUNCTIONS, PYTHON_RUNTIME

pytestmark = pytest.mark.infra


def test_the_care_rules_requirements_are_the_pinned_ones() -> None:
    pins = (functions.REPO_ROOT / "requirements.txt").read_text()
    care = functions.pinned_requirements("care_rules")
    assert [p.split("==")[0] for p in care] == ["jinja2", "css-inline"]
    assert all(f"{p}\n" in pins for p in care)
    assert {fn.package for fn in FUNCTIONS if functions.pinned_requirements(fn.package)} == {
        "care_rules",
        "tickets",
        "reports",
    }
    assert [p.split("==")[0] for p in functions.pinned_requirements("reports")] == ["css-inline"]


def test_the_tickets_requirements_are_the_pinned_ones() -> None:
    pins = (functions.REPO_ROOT / "requirements.txt").read_text()
    assert functions.pinned_requirements("tickets") == ["holidays==0.109"]
    assert "holidays==0.109\n" in pins


def test_pip_installs_wheels_of_the_function_platform_only() -> None:
    command = functions.pip_install_command(["jinja2==3.1.6"], "/out")
    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    assert "--only-binary=:all:" in command and command[-1] == "jinja2==3.1.6"
    assert command[command.index("--platform") + 1] == functions.PIP_PLATFORMS[ARCHITECTURE]
    assert command[command.index("--python-version") + 1] == PYTHON_RUNTIME.removeprefix("python")
    assert command[command.index("--target") + 1] == "/out"


def _bundled_stack(tmp_path: Path, package: str) -> Path:
    # bundling on (every stack), and the asset path recorded on the function
    app = App(outdir=str(tmp_path / "out"), context={"aws:cdk:enable-asset-metadata": True})
    stack = Stack(app, "Bundled")
    lambda_.Function(
        stack,
        "Fn",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler=f"{package}.api.lambda_handler",
        code=functions.function_code(package, stack),
    )
    assembly = app.synth()
    template = json.loads(Path(assembly.directory, "Bundled.template.json").read_text())
    fn = next(r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function")
    asset_path = fn["Metadata"]["aws:asset:path"]
    return Path(assembly.directory) / asset_path


def test_the_care_rules_asset_is_bundled_with_its_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []

    def fake_pip(requirements: list[str], target: str) -> list[str]:
        calls.append(requirements)
        script = (
            f"import pathlib; p = pathlib.Path({target!r}, 'jinja2'); p.mkdir(); (p / '__init__.py').touch()"
        )
        return [sys.executable, "-c", script]

    monkeypatch.setattr(functions, "pip_install_command", fake_pip)
    asset = _bundled_stack(tmp_path, "care_rules")
    assert calls == [functions.pinned_requirements("care_rules")]
    assert (asset / "jinja2" / "__init__.py").is_file()
    assert (asset / "care_rules" / "rendering.py").is_file()
    assert (asset / "care_rules" / "templates" / "tier-changed.en.jinja").is_file()
    assert not list(asset.rglob("__pycache__"))
    assert not (asset / "points").exists()  # only its own package


def test_the_tickets_asset_is_bundled_with_holidays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def fake_pip(requirements: list[str], target: str) -> list[str]:
        calls.append(requirements)
        script = (
            f"import pathlib; p = pathlib.Path({target!r}, 'holidays'); p.mkdir()\n"
            "(p / '__init__.py').touch()"
        )
        return [sys.executable, "-c", script]

    monkeypatch.setattr(functions, "pip_install_command", fake_pip)
    asset = _bundled_stack(tmp_path, "tickets")
    assert calls == [["holidays==0.109"]]
    assert (asset / "holidays" / "__init__.py").is_file()
    assert (asset / "tickets" / "api.py").is_file()
    assert not (asset / "care_rules").exists() and not (asset / "jinja2").exists()


def test_other_packages_are_not_bundled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pip(requirements: list[str], target: str) -> list[str]:
        raise AssertionError("nothing to install")

    monkeypatch.setattr(functions, "pip_install_command", no_pip)
    asset = _bundled_stack(tmp_path, "points")
    assert (asset / "points").is_dir() and not (asset / "care_rules").exists()
