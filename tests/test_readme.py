"""Every code block of the README runs as written (a new user's first contact with the project)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from graphfraud.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```(\w*)\n(.*?)```", README.read_text(), flags=re.S)

# Commands that cannot run here, and why: they need a live Gremlin Server or Neptune endpoint.
NEEDS_A_SERVER = ("ws://", "wss://")
# Commands that run until stopped (tests/test_serve.py starts the service itself).
RUNS_UNTIL_STOPPED = ("graphfraud serve",)


def _command_blocks() -> list[list[str]]:
    """The ``graphfraud ...`` commands of each bash block, in order (a block's commands build on each other)."""
    blocks = []
    for lang, body in BLOCKS:
        if lang == "bash":
            cmds = [part.strip() for line in body.splitlines() for part in line.split("#")[0].split("&&")
                    if part.strip().startswith("graphfraud ")]
            if cmds:
                blocks.append(cmds)
    return blocks


def test_the_readme_has_python_and_command_examples():
    assert sum(lang == "python" for lang, _ in BLOCKS) >= 2
    assert sum(len(b) for b in _command_blocks()) >= 3


def test_every_python_block_runs_in_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict = {}
    for i, (lang, body) in enumerate(BLOCKS):
        if lang == "python":
            exec(compile(body, f"README python block {i}", "exec"), namespace)


@pytest.mark.parametrize("commands", _command_blocks(), ids=lambda c: c[-1][:60])
def test_every_command_runs(commands, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    ran = 0
    for command in commands:
        if any(s in command for s in NEEDS_A_SERVER):
            continue  # needs a live Gremlin Server or Neptune endpoint, which cannot be installed here
        if command.startswith(RUNS_UNTIL_STOPPED):
            continue
        assert main(shlex.split(command)[1:]) == 0, (command, capsys.readouterr().err)
        ran += 1
    assert ran
