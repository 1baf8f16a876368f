"""``pdd data``: help, errors with exit code 2, generate/info output, and resume after ``kill -9``."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

import tests.toy_system  # noqa: F401  (registers the toy systems)
from pdd_core.apps.cli.data import parse_setting
from pdd_core.apps.cli.main import main
from pdd_core.data.hdf5_reader import read_metadata
from pdd_core.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def generate_args(out, *extra):
    return ["data", "generate", "toy-test", "--out", str(out), "--chunk-paths", "2", "--no-progress", *extra]


def test_help_shows_examples(capsys):
    for argv in (["data", "--help"], ["data", "generate", "--help"], ["data", "info", "--help"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.count("examples:") == 3 and "pdd data generate lorenz96 --preset small" in out and "toy-test" in out


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--set", "nosie=1"], "'nosie'.*not a parameter of ToyWalk"),
        (["--set", "noise"], "--set='noise': expected key=value"),
        (["--set", "noise=-1"], "noise"),
        (["--set", "offset=[1,2,3]"], "ToyWalk"),
        (["--preset", "huge"], "preset='huge'.*use one of \\['paper', 'small'\\]"),
        (["--seed", "-3"], "seed=-3"),
        (["--n-train", "0"], "n_train=0"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys, extra, message):
    assert main(generate_args(tmp_path / "x.h5", *extra)) == 2
    err = capsys.readouterr().err
    assert err.startswith("pdd data: error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert re.search(message, err), err
    assert not (tmp_path / "x.h5").exists()


def test_unknown_system_exits_2(tmp_path, capsys):
    assert main(["data", "generate", "no-such-system", "--out", str(tmp_path / "x.h5")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown system" in err and "toy-test" in err


def test_argparse_errors_exit_2(tmp_path, capsys):
    for argv in (["data"], ["data", "generate", "toy-test"], generate_args(tmp_path / "x.h5", "--n-train", "many")):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2


def test_parse_setting_reads_json_literals():
    assert parse_setting("F=8") == ("F", 8)
    assert parse_setting("nu=1e-3") == ("nu", 1e-3)
    assert parse_setting("shape=[64, 64]") == ("shape", (64, 64))
    assert parse_setting("integrator=rk4") == ("integrator", "rk4")
    assert parse_setting("flag=true") == ("flag", True)
    assert parse_setting(" name = a=b") == ("name", " a=b")
    with pytest.raises(ConfigError):
        parse_setting("=3")


def test_generate_then_info(tmp_path, capsys):
    out = tmp_path / "sub" / "toy.h5"
    assert main(generate_args(out, "--set", "noise=0.5", "offset=[1, 2]", "--n-valid", "4", "--seed", "7")) == 0
    captured = capsys.readouterr()
    assert "toy sizes: 6 points instead of 8" in captured.out and str(out.resolve()) in captured.out
    assert "valid [4, 5, 2, 6]" in captured.out and '--set: {"noise": 0.5, "offset": [1, 2]}' in captured.out
    metadata = read_metadata(out)
    assert metadata.seed == 7 and metadata.config["noise"] == 0.5 and metadata.config["offset"] == [1.0, 2.0] and metadata.config["n_points"] == 6

    assert main(["data", "info", str(out)]) == 0
    info = capsys.readouterr().out
    for fragment in ("toy-test", "shape (6,)", "channels 2", "train [7, 5, 2, 6]", "valid [4, 5, 2, 6]", "seed 7, preset small", "on disk", '"noise": 0.5'):
        assert fragment in info, fragment
    assert "does not rebuild" not in info
    assert main(["data", "info", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["splits"]["test"] == [2, 5, 2, 6] and summary["bytes_on_disk"] == out.stat().st_size
    np.testing.assert_allclose(summary["mean"], metadata.mean)

    assert main(generate_args(out)) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(generate_args(out, "--overwrite")) == 0


def test_info_on_a_foreign_file_exits_2(tmp_path, capsys):
    (tmp_path / "x.h5").write_text("hello")
    assert main(["data", "info", str(tmp_path / "x.h5")]) == 2
    assert "not an HDF5 file" in capsys.readouterr().err


def test_kill_9_then_resume_gives_the_uninterrupted_file(tmp_path, capsys):
    """A real SIGKILL of a CLI process mid-generation, then the same command again."""
    killed, reference = tmp_path / "killed.h5", tmp_path / "reference.h5"
    partial = tmp_path / "killed.h5.partial"
    argv = generate_args(killed, "--seed", "11")
    script = f"import sys; import tests.toy_system; from pdd_core.apps.cli.main import main; sys.exit(main({argv!r}))"
    # PDD_TOY_DELAY slows every advance call (timing only) so the kill lands midway.
    process = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, env={**os.environ, "PDD_TOY_DELAY": "0.3"}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 600  # a guard against a hang only: on a loaded machine the import alone can take a minute
    while len(list(partial.glob("*-*.h5"))) < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    finished_chunks = len(list(partial.glob("*-*.h5")))
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()
    assert not killed.exists() and 2 <= finished_chunks < 7

    assert main(argv) == 0
    assert f"resumed an interrupted run: {finished_chunks} of 7 chunks" in capsys.readouterr().out
    assert main(generate_args(reference, "--seed", "11")) == 0
    assert killed.read_bytes() == reference.read_bytes()
    with h5py.File(killed, "r") as a, h5py.File(reference, "r") as b:
        assert dict(a.attrs).keys() == dict(b.attrs).keys()
        for name in ("train", "valid", "test"):
            np.testing.assert_array_equal(a[name][...], b[name][...])
    assert read_metadata(killed) == read_metadata(reference)
