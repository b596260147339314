"""Failure signatures: each verdict fires on the run broken for it and stays quiet on a healthy one."""

from __future__ import annotations

import numpy as np
import pytest

from attnlib import forward
from attnlib.chain.task import ChainConfig
from attnlib.dynamics.experiments import RunSpec, run_specs
from attnlib.dynamics.signatures import (
    BROKEN_RATES,
    SIGNATURES,
    attention_collapse,
    check_signatures,
    diffuse_routing,
    format_signatures,
    underused_values,
    value_norm_explosion,
)
from attnlib.head.training import LearningRates

UNIFORM = np.tril(np.ones((6, 6))) / np.arange(1, 7)[:, None]  # (6, 6) causal, uniform over the allowed keys
FIRST_ONLY = np.zeros((6, 6))
FIRST_ONLY[:, 0] = 1.0  # every query reads key 0 alone



def verdicts_of(runs):
    out = {}
    for spec, history, task in zip(runs.specs, runs.histories, runs.tasks):
        start = spec.chain.initial_params(spec.seed)
        attn = forward(history.params, task.X).attn  # (N, N)
        out[spec.arm] = {v.signature: v for v in check_signatures(attn, task.X @ start.W_V, task.X @ history.params.W_V)}
    return out


@pytest.fixture(scope="module")
def broken():
    chain = ChainConfig(T=500)
    return verdicts_of(run_specs([RunSpec(name, 42, lrs, chain) for name, lrs in BROKEN_RATES.items()], steps=1000))


@pytest.fixture(scope="module")
def healthy():
    """SGD at 0.1 on the full chain reaches H_min within 1000 steps (chapter 8, section (e))."""
    return verdicts_of(run_specs([RunSpec("healthy", 42, LearningRates.sgd(0.1))], steps=1000))["healthy"]


@pytest.mark.parametrize("signature", SIGNATURES)
def test_each_signature_fires_on_its_broken_run(broken, signature):
    verdict = broken[signature][signature]
    assert verdict.fires, str(verdict)


@pytest.mark.parametrize("signature", SIGNATURES)
def test_no_signature_fires_on_a_healthy_run(healthy, signature):
    assert not healthy[signature].fires, str(healthy[signature])


def test_collapse_and_diffuse_are_opposite_ends():
    assert attention_collapse(FIRST_ONLY).fires and not diffuse_routing(FIRST_ONLY).fires
    assert diffuse_routing(UNIFORM).fires and not attention_collapse(UNIFORM).fires
    assert diffuse_routing(UNIFORM).value == pytest.approx(1.0)
    assert attention_collapse(FIRST_ONLY).value == 1.0


def test_underused_values_counts_dead_keys_against_uniform_usage():
    assert underused_values(UNIFORM).value == 0.0
    assert underused_values(FIRST_ONLY).value == pytest.approx(5 / 6)  # every key but the first is dead
    previous = np.eye(6, k=-1)  # query i reads key i - 1 (query 0 reads itself)
    previous[0, 0] = 1.0
    # key 0 is read by 2 queries but uniform attention would give it 1 + 1/2 + ... + 1/6 = 2.45: not dead at 0.1
    assert underused_values(previous).value == pytest.approx(1 / 6)  # only the last key, which nobody reads


def test_value_norm_explosion_is_a_ratio_and_non_finite_fires():
    V = np.ones((4, 3))
    assert value_norm_explosion(V, 3 * V).value == pytest.approx(3.0)
    assert not value_norm_explosion(V, 3 * V).fires
    assert value_norm_explosion(V, np.full((4, 3), np.nan)).fires


def test_stacks_of_patterns_are_averaged():
    stacked = np.stack([UNIFORM, FIRST_ONLY])  # (2, 6, 6)
    assert attention_collapse(stacked).value == pytest.approx(
        (attention_collapse(UNIFORM).value + attention_collapse(FIRST_ONLY).value) / 2
    )


@pytest.mark.parametrize(
    "call, text",
    [
        (lambda: attention_collapse(np.ones((3, 4)) / 4), "attn must have shape"),
        (lambda: diffuse_routing(2 * UNIFORM), "attn must hold attention patterns"),
        (lambda: attention_collapse(UNIFORM, threshold=2), "threshold"),
        (lambda: underused_values(UNIFORM, dead_below=-1), "dead_below"),
        (lambda: value_norm_explosion(np.ones((2, 2)), np.ones((3, 2))), "values_after must have the shape"),
        (lambda: value_norm_explosion(np.zeros((2, 2)), np.ones((2, 2))), "is all zeros"),
        (lambda: format_signatures({}), "checks must be a non-empty dict"),
    ],
)
def test_bad_input_gets_one_line(call, text):
    with pytest.raises((ValueError, TypeError), match=text) as error:
        call()
    assert "\n" not in str(error.value)


def test_format_signatures_marks_what_fires():
    table = format_signatures({"first only": check_signatures(FIRST_ONLY), "uniform": check_signatures(UNIFORM)})
    lines = table.splitlines()
    assert lines[0].split()[0] == "run" and len(lines) == 3
    assert "1 FIRES" in lines[1] and lines[2].endswith("1 FIRES")
    assert " - " in lines[1]  # value-norm explosion not measured
