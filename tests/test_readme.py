"""The README's "Your own data" example runs as written, then its `ssvae predict` line."""

import re
import shlex
from pathlib import Path

import pytest

from ssvae.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.slow
def test_own_data_example_runs_as_written(tmp_path, monkeypatch, capsys):
    text = README.read_text()
    section = text[text.index("## Your own data") :]
    python = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    shell = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(python, "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert float(printed[0]) > 0.8  # accuracy on the rows it had no label for; chance is 0.1
    command = shlex.split(shell.split("#")[0])
    assert command[0] == "ssvae" and main(command[1:]) == 0
    lines = (tmp_path / "predictions.csv").read_text().splitlines()
    assert len(lines) == 6 and lines[0].startswith("id,predicted,p_0,")
