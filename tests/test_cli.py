import subprocess
import sys

import pdd_core
from pdd_core.cli.main import main


def test_version_and_help(capsys):
    for flag in ("--version", "--help"):
        try:
            main([flag])
        except SystemExit as exit_:
            assert exit_.code == 0
    out = capsys.readouterr().out
    assert f"pdd {pdd_core.__version__}" in out and "usage: pdd" in out


def test_console_script_is_installed():
    result = subprocess.run([sys.executable, "-m", "pdd_core.cli.main", "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.startswith("pdd ")


def test_unknown_command_exits_2_without_traceback():
    result = subprocess.run([sys.executable, "-m", "pdd_core.cli.main", "no-such-command"], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
