"""``python -m attnlib``: help, a tiny reproduction with JSON output, and one-line usage errors."""

import json
import subprocess
import sys

import numpy as np
import pytest

from attnlib.cli import build_parser, main


def test_help(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: attnlib" in out and "reproduce" in out
    assert main(["reproduce", "sticky-chain", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--seeds", "--steps", "--value-ratio", "--exact-self-prob", "--json", "--quiet"):
        assert option in out


def test_python_dash_m_help():
    done = subprocess.run([sys.executable, "-m", "attnlib", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "reproduce" in done.stdout


def test_tiny_run_writes_json_of_the_documented_shape(tmp_path, capsys):
    path = tmp_path / "out.json"
    code = main(["reproduce", "sticky-chain", "--steps", "3", "--seeds", "42", "--T", "200", "--json", str(path)])
    assert code == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # no progress bar when stderr is not a terminal
    assert "430 ± 143" in captured.out and "EM-like steps to the threshold" in captured.out
    report = json.loads(path.read_text())
    assert report["seeds"] == [42] and report["steps"] == 3
    assert report["H_min"] == pytest.approx(1.8291880594672074)
    assert report["wall_seconds"] > 0
    (seed,) = report["per_seed"]
    assert seed["seed"] == 42
    for arm in ("SGD", "EM-like"):
        assert set(seed[arm]) == {"final_loss", "final_entropy", "final_accuracy", "losses"}
        assert len(seed[arm]["losses"]) == 3
    assert seed["em_steps_to_sgd"] is None or 0 <= seed["em_steps_to_sgd"] < 3
    summary = report["summary"]
    assert set(summary) >= {"SGD", "EM-like", "sgd_mean_final_loss", "em_steps_to_sgd", "speedup"}
    assert set(summary["SGD"]["final_loss"]) == {"mean", "std"}
    assert report["config"]["T"] == 200 and report["config"]["N"] == 199 and report["config"]["published"]
    assert report["paper"]["em_steps_to_sgd"] == {"mean": 430.0, "std": 143.0}
    assert report["config"]["effective_self_prob"] == pytest.approx(0.3498, abs=5e-5)


def test_exact_self_prob_option(tmp_path, capsys):
    path = tmp_path / "exact.json"
    code = main(["reproduce", "sticky-chain", "--steps", "1", "--seeds", "7", "--T", "40", "--exact-self-prob",
                 "--quiet", "--json", str(path)])  # fmt: skip
    assert code == 0
    assert json.loads(path.read_text())["config"]["effective_self_prob"] == pytest.approx(0.3)
    assert "self-transition 0.3000 (exact)" in capsys.readouterr().out


BAD = [
    (["reproduce", "sticky-chain", "--steps", "-1"], "--steps"),
    (["reproduce", "sticky-chain", "--steps", "ten"], "--steps"),
    (["reproduce", "sticky-chain", "--seeds", "4.5"], "--seeds"),
    (["reproduce", "sticky-chain", "--seeds", "-3", "--T", "20"], "seed must be in [0, 2**32), got -3"),
    (["reproduce", "sticky-chain", "--seeds", "1", "1", "--T", "20"], "distinct"),
    (["reproduce", "sticky-chain", "--self-prob", "1.5"], "self_prob must be a finite number in [0, 1], got 1.5"),
    (["reproduce", "sticky-chain", "--self-prob", "-0.2"], "self_prob must be a finite number in [0, 1]"),
    (["reproduce", "sticky-chain", "--n-symbols", "1"], "n_symbols must be >= 2, got 1"),
    (["reproduce", "sticky-chain", "--value-ratio", "nan"], "--value-ratio"),
    (["reproduce", "sticky-chain", "--json", "/nonexistent-dir/x.json"], "does not exist"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["reproduce", "nothing"], "invalid choice: 'nothing'"),
    (["reproduce"], "say what to reproduce"),
    ([], "choose a command"),
]


@pytest.mark.parametrize("argv, text", BAD, ids=[" ".join(a) or "(none)" for a, _ in BAD])
def test_bad_arguments_exit_2_with_one_line(argv, text, capsys):
    _assert_exit_2_with_one_line(argv, text, capsys)


def _assert_exit_2_with_one_line(argv, text, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert text in lines[0]
    assert "Traceback" not in captured.err and captured.out == ""


def test_bad_argument_from_the_shell_has_no_traceback():
    done = subprocess.run(
        [sys.executable, "-m", "attnlib", "reproduce", "sticky-chain", "--n-symbols", "0"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "attnlib: error: n_symbols must be >= 2, got 0"


def test_parser_has_room_for_sibling_commands():
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    assert "reproduce" in commands.choices


def test_assignments_build_writes_both_versions(tmp_path, capsys):
    from attnlib.cli import main

    assert main(["assignments", "build", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "student.zip").exists() and (tmp_path / "out" / "instructor.zip").exists()
    assert sorted(p.name for p in (tmp_path / "out" / "student").glob("*.ipynb"))
    assert "chapters" in capsys.readouterr().out


def test_assignments_build_rejects_a_file_as_out_dir(tmp_path, capsys):
    from attnlib.cli import main

    target = tmp_path / "a_file"
    target.write_text("x")
    assert main(["assignments", "build", str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "out_dir must be a directory" in err


# --------------------------------------------------------------------------- sweep (chapter 10)
def test_sweep_help_lists_options_and_variants(capsys):
    assert main(["--help"]) == 0
    assert "sweep" in capsys.readouterr().out
    assert main(["sweep", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--seeds", "--steps", "--T", "--base-lr", "--value-ratio", "--json", "--quiet", "--workers",
                   "sgd=0.01 adam=3e-05"):
        assert option in out
    for variant in ("baseline", "layernorm", "residual", "heads-2", "adam", "targets-1", "dropout-0.3", "all",
                    "diversity", "dropout"):
        assert f"\n  {variant}" in out


def test_tiny_sweep_writes_json_of_the_documented_shape(tmp_path, capsys):
    path = tmp_path / "sweep.json"
    code = main(["sweep", "baseline", "targets-2", "--steps", "110", "--T", "25", "--seeds", "42", "7",
                 "--json", str(path)])  # fmt: skip
    assert code == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # no progress bar when stderr is not a terminal
    assert "EM-like vs SGD" in captured.out and "targets-2" in captured.out
    report = json.loads(path.read_text())
    assert report["seeds"] == [42, 7] and report["variants"] == ["baseline", "targets-2"]
    assert report["config"]["steps"] == 110 and report["config"]["N"] == 24 and report["wall_seconds"] > 0
    assert len(report["runs"]) == 2 * 2 * 2
    run = report["runs"][-1]
    assert (run["variant"], run["arm"], run["seed"]) == ("targets-2", "EM-like", 7)
    assert run["spec"]["n_groups"] == 2 and run["lrs"]["W_V"] == pytest.approx(0.1)
    assert set(run["final"]) == {"loss", "entropy", "accuracy"}
    assert len(run["curves"]["loss"]) == 110 and set(run["timescales"]["loss"]) == {"settle", "tail", "growth"}
    assert set(report["summary"]["baseline"]) >= {"threshold", "em_steps_to_sgd", "speedup", "paired_speedup",
                                                  "arms", "diversity"}  # fmt: skip


def test_sweep_without_curves(tmp_path):
    path = tmp_path / "small.json"
    assert main(["sweep", "adam", "--steps", "101", "--T", "12", "--seeds", "1", "--no-curves", "--quiet",
                 "--json", str(path)]) == 0  # fmt: skip
    run = json.loads(path.read_text())["runs"][0]
    assert "curves" not in run and run["spec"]["optimizer"] == "adam" and run["lrs"]["W_Q"] == pytest.approx(3e-5)


SWEEP_BAD = [
    (["sweep"], "the following arguments are required: VARIANT"),
    (["sweep", "lyernorm"], "invalid choice: 'lyernorm'"),
    (["sweep", "baseline", "--steps", "100"], "--steps: must be an integer >= 101, got '100'"),
    (["sweep", "baseline", "--steps", "ten"], "--steps"),
    (["sweep", "baseline", "--T", "2"], "--T: must be an integer >= 3"),
    (["sweep", "baseline", "--seeds", "4.5"], "--seeds"),
    (["sweep", "baseline", "--seeds", "1", "1", "--T", "12", "--steps", "101"], "seeds must be distinct"),
    (["sweep", "baseline", "--seeds", "-3", "--T", "12", "--steps", "101"], "seed must be in [0, 2**32), got -3"),
    (["sweep", "baseline", "--value-ratio", "inf"], "--value-ratio"),
    (["sweep", "baseline", "--base-lr", "sgd=-0.1", "--T", "12", "--steps", "101"],
     "base rate of sgd must be a finite number >= 0"),
    (["sweep", "baseline", "--base-lr", "0.1", "--T", "12", "--steps", "101"], "must be OPTIMIZER=RATE"),
    (["sweep", "baseline", "--base-lr", "rmsprop=0.1", "--T", "12", "--steps", "101"], "one of ('sgd', 'adam')"),
    (["sweep", "baseline", "--json", "/nonexistent-dir/x.json"], "does not exist"),
    (["sweep", "baseline", "--workers", "0"], "--workers: must be an integer >= 1, got '0'"),
    (["sweep", "baseline", "--base-lr", "sgd=300", "--T", "30", "--steps", "200", "--seeds", "42", "--quiet"],
     "the EM-like run of baseline, seed 42, diverged: its loss is not finite from step"),
]


@pytest.mark.parametrize("argv, text", SWEEP_BAD, ids=[" ".join(a) for a, _ in SWEEP_BAD])
def test_sweep_bad_arguments_exit_2_with_one_line(argv, text, capsys):
    _assert_exit_2_with_one_line(argv, text, capsys)


def test_sweep_bad_argument_from_the_shell_has_no_traceback():
    done = subprocess.run([sys.executable, "-m", "attnlib", "sweep", "baseline", "--T", "1"],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == "attnlib sweep: error: argument --T: must be an integer >= 3, got '1'"


# --------------------------------------------------------------------------- the paper's other experiments
def test_record_dynamics_writes_one_value_per_step(tmp_path, capsys):
    path = tmp_path / "dyn.json"
    assert main(["reproduce", "sticky-chain", "--steps", "4", "--seeds", "42", "--T", "60", "--record-dynamics",
                 "--quiet", "--json", str(path)]) == 0  # fmt: skip
    (seed,) = json.loads(path.read_text())["per_seed"]
    for arm in ("SGD", "EM-like"):
        dynamics = seed[arm]["dynamics"]
        assert set(dynamics) == {"attention_entropy", "attention_change", "score_grad_norm", "value_grad_norm"}
        assert all(len(curve) == 4 for curve in dynamics.values())
        assert 0 < dynamics["attention_entropy"][0] < np.log(59)
        assert all(change > 0 for change in dynamics["attention_change"])
    path.unlink()
    assert main(["reproduce", "sticky-chain", "--steps", "2", "--seeds", "42", "--T", "60", "--quiet",
                 "--json", str(path)]) == 0  # fmt: skip
    assert "dynamics" not in json.loads(path.read_text())["per_seed"][0]["SGD"]


def test_deep_transformer_writes_losses_and_held_out_metrics(tmp_path, capsys):
    path = tmp_path / "deep.json"
    assert main(["reproduce", "deep-transformer", "--seeds", "42", "7", "--steps", "2", "--T", "40",
                 "--device", "cpu", "--quiet", "--json", str(path)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "Deep variant: 4 layers, 4 heads, d_model 64, 2 steps, N = 39" in out and "H_min = " in out
    report = json.loads(path.read_text())
    assert report["seeds"] == [42, 7] and report["device"] == "cpu"
    first = report["per_seed"][0]
    assert len(first["train_losses"]) == 2
    assert set(first["held_out"]) == set(first["authors_held_out"]) == {"loss", "entropy", "accuracy"}


def test_deep_transformer_rejects_bad_arguments(capsys):
    assert main(["reproduce", "deep-transformer", "--device", "gpu"]) == 2
    assert "invalid choice: 'gpu'" in capsys.readouterr().err
    assert main(["reproduce", "deep-transformer", "--seeds", "1", "1", "--steps", "1", "--T", "20"]) == 2
    assert "seeds must be distinct" in capsys.readouterr().err
