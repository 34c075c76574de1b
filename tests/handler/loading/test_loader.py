"""Loading a model (``handler/loading/loader.py``): a model must return the same model every time,
or what was validated would not be what deploys."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from handler.loading import SandboxLimits, load_model
from handler.validation import ChangeSource, validate
from tests.support.template import TEMPLATE

FAST = SandboxLimits(wall_seconds=20)
MakeModel = Callable[[str], Path]


def with_condition(condition: str) -> str:
    """The template model, with a team declaration added only when ``condition`` holds."""
    template = (TEMPLATE / "eco.py").read_text()
    assert "    return ecosystem\n" in template
    return template.replace(
        "    return ecosystem\n",
        f"    if {condition}:\n"
        "        ecosystem.getZoneOrThrow('USA').team_declarations.append(\n"
        "            TeamDeclaration('intruder', GitHubRepository('mallory/model', 'main')))\n"
        "    return ecosystem\n",
    )


def test_the_template_is_deterministic() -> None:
    result = load_model(TEMPLATE, FAST, check_determinism=True)
    assert result.findings == [] and result.ecosystem is not None


@pytest.mark.parametrize(
    ("label", "condition"),
    [
        ("process id", "__import__('os').getpid() % 2 == 1"),
        ("clock", "__import__('time').time() > 1e9 and __import__('datetime').datetime.now().year % 2 == 0"),
        ("random numbers", "__import__('random').random() < 0.5"),
        ("hash order", "next(iter({'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l'})) in 'abcdef'"),
        ("listing order", "__import__('os').listdir('.')[0] < 'm'"),
        ("folder", "'-0-' in __import__('os').getcwd()"),
    ],
)
def test_a_model_that_depends_on_its_conditions_is_refused(model_dir: MakeModel, label: str, condition: str) -> None:
    folder = model_dir(with_condition(condition))
    for extra in ("a.txt", "z.txt"):
        (folder / extra).write_text(label)
    result = load_model(folder, FAST, check_determinism=True)
    assert result.ecosystem is None, f"a model depending on its {label} was accepted"
    (finding,) = [f for f in result.findings if f.is_error]
    assert finding.rule == "load-nondeterministic"
    assert finding.path.startswith("zone:USA") and "first at zone:USA" in finding.message


def test_validation_of_a_model_that_flips_with_the_process_id_always_fails(
    tmp_path: Path, model_dir: MakeModel
) -> None:
    """The attack: an ownership change that appears only in odd-numbered processes."""
    import shutil

    base = tmp_path / "base"
    shutil.copytree(TEMPLATE, base, ignore=shutil.ignore_patterns("__pycache__"))
    head = model_dir(with_condition("__import__('os').getpid() % 2 == 1"))
    verdicts = {
        validate(base, head, ChangeSource("acme/datasurface-model", "team1"), ["eco.py"], FAST).verdict
        for _ in range(4)
    }
    assert verdicts == {"fail"}
