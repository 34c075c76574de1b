"""Loading untrusted eco.py in the sandbox (docs/sandbox.md): each hostile case on its own."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from handler.loading import SandboxLimits, landlock, load_model
from tests.support.template import TEMPLATE

FAST = SandboxLimits(wall_seconds=20)
HAS_LANDLOCK = landlock.abi_version() > 0

MakeModel = Callable[[str], Path]


def only_finding(folder: Path, limits: SandboxLimits = FAST):
    result = load_model(folder, limits)
    assert result.ecosystem is None
    assert len(result.findings) == 1, result.findings
    return result.findings[0]


def test_template_loads_with_mapping() -> None:
    result = load_model(TEMPLATE, FAST)
    assert result.findings == []
    assert result.ecosystem is not None
    assert {m.dsgName for m in result.ecosystem.dsg_platform_mappings} == {"LiveDSG", "ForensicDSG"}


def test_syntax_error_names_file_and_line(model_dir: MakeModel) -> None:
    folder = model_dir("from handler.model import *\n\ndef createEcosystem(:\n    pass\n")
    finding = only_finding(folder)
    assert finding.rule == "load-syntax"
    assert finding.path == "file:eco.py:3"
    assert "SyntaxError" in finding.message


def test_syntax_error_in_an_imported_model_module_names_that_module(model_dir: MakeModel) -> None:
    folder = model_dir("import helpers\n\ndef createEcosystem():\n    return helpers.build()\n")
    (folder / "helpers.py").write_text("def build(:\n")
    finding = only_finding(folder)
    assert (finding.rule, finding.path) == ("load-syntax", "file:helpers.py:1")


def test_exception_inside_create_ecosystem_names_file_and_line(model_dir: MakeModel) -> None:
    folder = model_dir(
        """\
        def helper():
            return {}["missing-key"]

        def createEcosystem():
            return helper()
        """
    )
    finding = only_finding(folder)
    assert finding.rule == "load-exception"
    assert finding.path == "file:eco.py:2"
    assert "KeyError" in finding.message and "missing-key" in finding.message


def test_missing_create_ecosystem_is_a_clear_error(model_dir: MakeModel) -> None:
    finding = only_finding(model_dir("def create_ecosystem():\n    pass\n"))
    assert finding.rule == "load-entrypoint"
    assert "defines no createEcosystem() function" in finding.message


def test_create_ecosystem_must_return_an_ecosystem(model_dir: MakeModel) -> None:
    finding = only_finding(model_dir("def createEcosystem():\n    return {'name': 'x'}\n"))
    assert finding.rule == "load-entrypoint"
    assert "returned dict, expected an Ecosystem" in finding.message


def test_endless_loop_is_stopped_by_the_wall_clock_timeout(model_dir: MakeModel) -> None:
    folder = model_dir("def createEcosystem():\n    while True:\n        pass\n")
    started = time.monotonic()
    finding = only_finding(folder, SandboxLimits(wall_seconds=2, cpu_seconds=60))
    assert time.monotonic() - started < 15
    assert finding.rule == "load-timeout"
    assert "did not finish within 2 s" in finding.message


def test_cpu_limit_stops_a_busy_model_before_the_wall_clock(model_dir: MakeModel) -> None:
    folder = model_dir("def createEcosystem():\n    while True:\n        pass\n")
    finding = only_finding(folder, SandboxLimits(wall_seconds=60, cpu_seconds=1))
    assert finding.rule == "load-timeout"
    assert "more than 1 s of CPU time" in finding.message


def test_memory_bomb_is_stopped_by_the_memory_limit(model_dir: MakeModel) -> None:
    folder = model_dir(
        """\
        def createEcosystem():
            blocks = []
            while True:
                blocks.append(bytearray(10_000_000))
        """
    )
    finding = only_finding(folder, SandboxLimits(wall_seconds=30, memory_mb=512))
    assert finding.rule == "load-memory"
    assert finding.path == "file:eco.py:4"


def test_model_sees_no_environment_variable_of_the_parent(
    model_dir: MakeModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_fake_token_for_the_test")
    folder = model_dir(
        """\
        import os

        def createEcosystem():
            raise RuntimeError("environment=" + repr(sorted(os.environ)) + " token=" + repr(os.environ.get("GITHUB_TOKEN")))
        """
    )
    finding = only_finding(folder)
    assert "environment=[] token=None" in finding.message
    assert "ghp_fake" not in finding.message


def test_model_writes_stay_in_its_temporary_copy(model_dir: MakeModel) -> None:
    folder = model_dir(
        """\
        def createEcosystem():
            with open("scratch.txt", "w") as f:   # allowed: inside the temporary copy
                f.write("scratch")
            with open("../escaped.txt", "w") as f:  # outside the copy
                f.write("escaped")
        """
    )
    result = load_model(folder, FAST)
    assert result.ecosystem is None
    assert not (folder / "scratch.txt").exists(), "the model's own folder is never written"
    assert not (folder.parent / "escaped.txt").exists()
    if HAS_LANDLOCK:
        assert "PermissionError" in result.findings[0].message and "escaped.txt" in result.findings[0].message


@pytest.mark.skipif(
    not HAS_LANDLOCK, reason="kernel without Landlock: absolute-path writes are not isolated (see docs/sandbox.md)"
)
def test_model_cannot_touch_the_parents_files_by_absolute_path(model_dir: MakeModel, tmp_path: Path) -> None:
    victim = tmp_path / "parent-state.txt"
    victim.write_text("precious")
    folder = model_dir(
        f"""\
        def createEcosystem():
            open({str(victim)!r}, "w").write("overwritten")
        """
    )
    finding = only_finding(folder)
    assert finding.rule == "load-exception" and "PermissionError" in finding.message
    assert victim.read_text() == "precious"


@pytest.mark.skipif(
    not HAS_LANDLOCK,
    reason="kernel without Landlock: reads, programs and sockets are not restricted (see docs/sandbox.md)",
)
def test_model_cannot_read_secrets_run_programs_or_open_sockets(model_dir: MakeModel) -> None:
    folder = model_dir(
        """\
        import os, socket, subprocess

        def createEcosystem():
            results = []
            for attempt in (
                lambda: open(f"/proc/{os.getppid()}/environ", "rb").read(),
                lambda: subprocess.run(["/bin/true"]),
                lambda: socket.create_connection(("127.0.0.1", 9), timeout=2),
            ):
                try:
                    attempt()
                    results.append("allowed")
                except OSError as exc:
                    results.append(type(exc).__name__)
            raise RuntimeError(",".join(results))
        """
    )
    finding = only_finding(folder)
    assert "RuntimeError: PermissionError,PermissionError,PermissionError" in finding.message


def test_model_prints_do_not_corrupt_the_result(model_dir: MakeModel) -> None:
    template = (TEMPLATE / "eco.py").read_text()
    folder = model_dir(template.replace("    return ecosystem", '    print("OK\\n{not json")\n    return ecosystem'))
    result = load_model(folder, FAST)
    assert result.findings == [] and result.ecosystem is not None
    assert "{not json" in result.stderr


def test_wrong_argument_type_is_reported_at_its_model_path(model_dir: MakeModel) -> None:
    template = (TEMPLATE / "eco.py").read_text()
    folder = model_dir(template.replace('DDLColumn("dob", Date(), **NOT_NULL)', 'DDLColumn("dob", "date", **NOT_NULL)'))
    finding = only_finding(folder)
    assert finding.rule == "load-invalid"
    assert finding.path.startswith("zone:USA/team:team1/store:Store1/dataset:customers/")
    assert "Expected `object`, got `str`" in finding.message


def test_broken_mapping_file_is_a_finding_and_the_model_still_loads(model_dir: MakeModel) -> None:
    folder = model_dir((TEMPLATE / "eco.py").read_text())
    (folder / "dsg_platform_mapping.json").write_text(
        '[{"dsgName": "LiveDSG", "workspace": "Consumer1", "assignments": [{"dataPlatfrom": "YellowLive"}]}]'
    )
    result = load_model(folder, FAST)
    assert result.ecosystem is not None
    assert [f.rule for f in result.findings] == ["mapping-invalid"]
    assert "dataPlatfrom" in result.findings[0].message


def test_limits_come_from_the_environment() -> None:
    limits = SandboxLimits.from_env({"DATASURFACE_SANDBOX_WALL_SECONDS": "5.5", "DATASURFACE_SANDBOX_MEMORY_MB": "700"})
    assert (limits.wall_seconds, limits.memory_mb, limits.cpu_seconds) == (5.5, 700, 30)
    with pytest.raises(ValueError, match="DATASURFACE_SANDBOX_CPU_SECONDS='lots' is not a number"):
        SandboxLimits.from_env({"DATASURFACE_SANDBOX_CPU_SECONDS": "lots"})


def test_a_model_may_lint_itself_as_datasurface_models_do(model_dir: Callable[[str], Path]) -> None:
    template = (TEMPLATE / "eco.py").read_text()
    source = template.replace(
        "    return ecosystem\n",
        "    report = ecosystem.lintAndHydrateCaches()\n    assert not report.hasErrors()\n    return ecosystem\n",
    )
    assert "lintAndHydrateCaches" in source
    result = load_model(model_dir(source), FAST)
    assert result.findings == [] and result.ecosystem is not None


# --- the process tree, the output, and failing closed ---------------------------------------------

UNSANDBOXED_FORKS = {"DATASURFACE_SANDBOX_PRETEND_MISSING": "seccomp"}  # so that a model can fork at all


def test_a_detached_daemon_is_killed_and_the_parent_returns_on_time(
    model_dir: MakeModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even without seccomp (explicitly allowed), a model that double-forks a daemon into its own
    session, holding the output pipes, neither outlives the load nor makes the parent wait."""
    for key, value in UNSANDBOXED_FORKS.items():
        monkeypatch.setenv(key, value)
    folder = model_dir(
        """\
        import os, sys, time

        def createEcosystem():
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    sys.stderr.write(f"daemon={os.getpid()}\\n"); sys.stderr.flush()
                    while True:
                        time.sleep(1)
                os._exit(0)
            time.sleep(0.5)
            while True:
                pass
        """
    )
    started = time.monotonic()
    result = load_model(folder, SandboxLimits(wall_seconds=3, allow_unsandboxed=True))
    elapsed = time.monotonic() - started
    assert result.findings[0].rule == "load-timeout"
    assert elapsed < 3 + 6, f"the parent waited {elapsed:.1f} s"
    daemon = int(result.stderr.split("daemon=")[1].split()[0])
    time.sleep(0.2)
    assert not Path(f"/proc/{daemon}").exists(), "the detached daemon outlived the load"


def test_a_daemon_left_behind_by_a_model_that_returns_is_killed(
    model_dir: MakeModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATASURFACE_SANDBOX_PRETEND_MISSING", "seccomp")
    template = (TEMPLATE / "eco.py").read_text()
    folder = model_dir(
        template.replace(
            "    return ecosystem\n",
            "    import os, sys, time\n"
            "    if os.fork() == 0:\n"
            "        os.setsid()\n"
            "        sys.stderr.write(f'daemon={os.getpid()}\\n'); sys.stderr.flush()\n"
            "        time.sleep(3600)\n"
            "    time.sleep(0.3)\n"
            "    return ecosystem\n",
        )
    )
    started = time.monotonic()
    result = load_model(folder, SandboxLimits(wall_seconds=20, allow_unsandboxed=True))
    assert result.ecosystem is not None and time.monotonic() - started < 10
    assert [f.rule for f in result.findings] == ["load-unsandboxed"]
    daemon = int(result.stderr.split("daemon=")[1].split()[0])
    assert not Path(f"/proc/{daemon}").exists()


def test_output_is_capped_and_the_rest_discarded_with_a_warning(model_dir: MakeModel) -> None:
    template = (TEMPLATE / "eco.py").read_text()
    folder = model_dir(
        template.replace(
            "    return ecosystem\n",
            "    import sys\n    chunk = 'x' * 65536\n    for _ in range(800):\n        sys.stderr.write(chunk)\n"
            "        print(chunk)\n    return ecosystem\n",
        )
    )
    result = load_model(folder, FAST)
    assert result.ecosystem is not None
    (warning,) = result.findings
    assert warning.rule == "load-output-truncated" and "discarded" in warning.message
    discarded = int(warning.message.split("; ")[1].split(" bytes")[0].replace(",", ""))
    assert discarded == 2 * 800 * 65536 + 800 - 1024 * 1024  # prints on both streams, newlines included
    assert len(result.stderr) <= 2000


@pytest.mark.parametrize("missing", ["landlock", "seccomp", "landlock,seccomp"])
def test_without_a_sandbox_layer_no_model_code_runs(
    model_dir: MakeModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    monkeypatch.setenv("DATASURFACE_SANDBOX_PRETEND_MISSING", missing)
    witness = tmp_path / "model-code-ran"
    folder = model_dir(f"open({str(witness)!r}, 'w').write('ran')\n\ndef createEcosystem():\n    pass\n")
    finding = only_finding(folder)
    assert finding.rule == "load-sandbox-unavailable"
    assert "the model was not run" in finding.message and all(layer in finding.message for layer in missing.split(","))
    assert not witness.exists()


def test_allowed_explicitly_the_model_runs_and_says_so(model_dir: MakeModel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATASURFACE_SANDBOX_PRETEND_MISSING", "landlock")
    folder = model_dir((TEMPLATE / "eco.py").read_text())
    result = load_model(folder, SandboxLimits(wall_seconds=20, allow_unsandboxed=True))
    assert result.ecosystem is not None
    assert result.unsandboxed is not None and "landlock" in result.unsandboxed
    assert [f.rule for f in result.findings] == ["load-unsandboxed"]
    assert SandboxLimits.from_env({"DATASURFACE_SANDBOX_ALLOW_UNSANDBOXED": "1"}).allow_unsandboxed
    with pytest.raises(ValueError, match="not true or false"):
        SandboxLimits.from_env({"DATASURFACE_SANDBOX_ALLOW_UNSANDBOXED": "maybe"})


def test_the_mapping_file_is_read_inside_the_sandbox_without_following_links(
    model_dir: MakeModel, tmp_path: Path
) -> None:
    folder = model_dir((TEMPLATE / "eco.py").read_text())
    other = tmp_path / "other-repository.json"
    other.write_text('[{"dsgName": "SECRET-FROM-ANOTHER-REPO", "workspace": "x", "assignments": []}]')
    (folder / "dsg_platform_mapping.json").unlink()
    (folder / "dsg_platform_mapping.json").symlink_to(other)
    finding = only_finding(folder)
    assert finding.rule == "load-symlink-outside" and "SECRET" not in finding.message
    (folder / "dsg_platform_mapping.json").unlink()
    (folder / "real.json").write_text("[]")
    (folder / "dsg_platform_mapping.json").symlink_to("real.json")  # a link inside the folder is still not followed
    result = load_model(folder, FAST)
    assert result.ecosystem is None or any(f.rule == "mapping-invalid" for f in result.findings)
    assert any("symbolic link" in f.message for f in result.findings)
