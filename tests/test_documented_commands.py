"""Every command that the README, the book and the notebooks show is run, at the ci profile."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mae_study import classroom
from mae_study.report.documented import at_profile, documented_commands

def _once_at_ci(commands):
    """Commands that are the same at the ci profile (``--profile cpu`` and ``--profile gpu``) run once."""
    seen, out = set(), []
    for where, command in commands:
        key = tuple(at_profile(command, "ci", Path("/out")))
        if key not in seen:
            seen.add(key)
            out.append((where, command))
    return out


COMMANDS = _once_at_ci(documented_commands(extra=classroom.commands()))  # the exercises last


def test_the_collection_finds_the_commands_readers_see():
    files = {f for f, _ in documented_commands()}
    assert "README.md" in files and "book/intro.md" in files
    assert {"README.md", "book/intro.md", "book/dynmask.md", "book/mae_ablations.md"} <= files
    assert any(c.startswith("papermill notebooks/04_dynmask_finetune.ipynb") for _, c in COMMANDS)
    assert any(c.startswith("python -m mae_study.sweep mae_ablations") for _, c in COMMANDS)


@pytest.fixture(scope="module")
def shared_results(tmp_path_factory):
    """One results root for all commands, in reading order: a later command may use a run that an
    earlier one made (the README's fine-tuning of the pre-training it made just before)."""
    return tmp_path_factory.mktemp("documented")


@pytest.mark.parametrize("where, command", COMMANDS, ids=[f"{f}: {c[:60]}" for f, c in COMMANDS])
def test_documented_command_runs(where, command, shared_results):
    env = {**os.environ, "MAE_STUDY_RESULTS": str(shared_results / "results"), "MAE_STUDY_PROFILE": "ci"}
    args = at_profile(command, "ci", shared_results)
    done = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{where}: `{command}` failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
