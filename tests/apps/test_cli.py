import subprocess
import sys

import pdd_core
from pdd_core.apps.cli.main import main


def test_version_and_help(capsys):
    for flag in ("--version", "--help"):
        try:
            main([flag])
        except SystemExit as exit_:
            assert exit_.code == 0
    out = capsys.readouterr().out
    assert f"pdd {pdd_core.__version__}" in out and "usage: pdd" in out


def test_console_script_is_installed():
    result = subprocess.run([sys.executable, "-m", "pdd_core.apps.cli.main", "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.startswith("pdd ")


def test_unknown_command_exits_2_without_traceback():
    result = subprocess.run([sys.executable, "-m", "pdd_core.apps.cli.main", "no-such-command"], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_seeds_outside_int64_are_refused_up_front_by_every_command(tmp_path, capsys):
    """A seed >= 2^63 used to do all the work and then overflow in an HDF5 attribute."""
    import pytest

    from pdd_core.errors import ConfigError
    from pdd_core.training import TrainConfig

    huge = str(2**63)
    for argv in (
        ["data", "generate", "lorenz96", "--preset", "small", "--out", str(tmp_path / "d.h5")],
        ["train", "--data", str(tmp_path / "missing.h5"), "--out", str(tmp_path / "run")],
        ["generate", str(tmp_path / "run"), "--n", "1", "--frames", "2", "--out", str(tmp_path / "g.h5")],
        ["demo", "--out", str(tmp_path / "demo")],
    ):
        assert main([*argv, "--seed", huge]) == 2
        error = capsys.readouterr().err.strip().splitlines()
        assert len(error) == 1 and f"--seed={huge}: must be an integer in [0, 2^63)" in error[0]
    assert not (tmp_path / "d.h5").exists() and not (tmp_path / "demo").exists()  # refused before any work
    with pytest.raises(ConfigError, match="below 2"):
        TrainConfig(scheme={"name": "carosso"}, seed=2**63)
