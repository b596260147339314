"""Chapter 6: the toy task, its batch trainer and analysis helpers, its plots and its slider."""

from __future__ import annotations

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import attnlib  # noqa: E402
from attnlib.reference import autograd_grads  # noqa: E402
from attnlib.head.entropy import attention_entropy  # noqa: E402
from attnlib.dynamics.toy import (  # noqa: E402
    ToyHistory,
    ToyTask,
    all_sequences,
    batch_step,
    content_share,
    encode,
    evidence_advantage,
    evidence_positions,
    predicted_value_change,
    seed_study,
    split_sequences,
    study_table,
    summarize_run,
    toy_init,
    toy_snapshot,
    toy_task,
    train_toy,
    value_pulls,
    value_table,
    value_trajectories,
)
from attnlib.head.training import LearningRates, train  # noqa: E402


@pytest.fixture(scope="module")
def split():
    train_tokens, held_out_tokens = split_sequences(all_sequences(), 12, rng=0)
    return toy_task(train_tokens), toy_task(held_out_tokens)


@pytest.fixture(scope="module")
def run(split):
    task, _ = split
    return train_toy(toy_init(task, scale=0.5, rng=0), task, LearningRates.sgd(1.0), steps=60)


# --------------------------------------------------------------------------- the task
def test_sequences_inputs_and_targets():
    seqs = all_sequences()
    assert seqs.shape == (243, 5) and len({tuple(s) for s in seqs.tolist()}) == 243
    task = toy_task(seqs)
    assert task.n_sequences == 243 and task.n_positions == 5 and task.d_x == 8
    assert np.array_equal(task.evidence, [0, 0, 1, 2, 3])
    assert np.array_equal(task.y[:, 1:], task.tokens[:, :-1]) and np.array_equal(task.y[:, 0], task.tokens[:, 0])
    b = 100
    for j in range(5):
        assert np.array_equal(task.X[b, j], np.concatenate([np.eye(3)[task.tokens[b, j]], np.eye(5)[j]]))
    with pytest.raises(ValueError):
        task.X[0, 0, 0] = 5.0  # read-only


def test_split_is_a_reproducible_partition():
    seqs = all_sequences()
    a_train, a_rest = split_sequences(seqs, 12, rng=0)
    b_train, _ = split_sequences(seqs, 12, rng=np.random.default_rng(0))
    assert np.array_equal(a_train, b_train)
    both = {tuple(s) for s in np.concatenate([a_train, a_rest]).tolist()}
    assert len(both) == 243 and a_rest.shape == (231, 5)
    assert not np.array_equal(a_train, split_sequences(seqs, 12, rng=1)[0])
    with pytest.raises(ValueError, match="n_train must be at most"):
        split_sequences(seqs, 244, rng=0)
    with pytest.raises(TypeError, match="rng must be an int seed"):
        split_sequences(seqs, 3, rng=None)


def test_encoding_validates():
    with pytest.raises(ValueError, match=r"tokens must lie in \[0, 3\)"):
        encode([[0, 3]], 3)
    with pytest.raises(ValueError, match="2-D integer array"):
        encode([0, 1], 3)
    assert evidence_positions(1).tolist() == [0]


# --------------------------------------------------------------------------- one batch step
def test_batch_step_is_the_mean_of_the_books_backward_and_agrees_with_autograd(split):
    task, _ = split
    params = toy_init(task, scale=0.8, rng=3)
    step = batch_step(params, task)
    losses = [attnlib.loss(attnlib.forward(params, X_b), y_b) for X_b, y_b in zip(task.X, task.y)]
    assert np.isclose(step.loss, np.mean(losses), rtol=1e-12)
    refs = [autograd_grads(params, X_b, y_b) for X_b, y_b in zip(task.X, task.y)]
    for name in ("W_Q", "W_K", "W_V", "W_O"):
        expected = np.mean([getattr(r, name) for r in refs], axis=0)
        assert np.allclose(getattr(step.weight_grads, name), expected, rtol=1e-9, atol=1e-14)
    assert step.stacked_cache("attn").shape == (12, 5, 5)
    assert step.stacked_grads("scores").shape == (12, 5, 5)
    with pytest.raises(ValueError, match="Cache has no field 'v'"):
        step.stacked_cache("v")
    with pytest.raises(ValueError, match="Grads has no field 'attn'"):
        step.stacked_grads("attn")


def test_batch_step_validates(split):
    task, _ = split
    with pytest.raises(TypeError, match="task must be an attnlib.dynamics.toy.ToyTask"):
        batch_step(toy_init(task, rng=0), task.X)
    with pytest.raises(ValueError, match="the task needs d_x = 8"):
        batch_step(attnlib.init_params(4, 2, 2, 3, rng=0), task)


# --------------------------------------------------------------------------- the trainer
@settings(max_examples=8)
@given(st.integers(0, 242), st.integers(0, 1000), st.sampled_from([0.3, 1.0]), st.booleans())
def test_one_sequence_is_the_reference_trainer(row, seed, eta, causal):
    task = toy_task(all_sequences()[row:row + 1])
    params = toy_init(task, scale=0.7, rng=seed)
    lrs = LearningRates(W_Q=eta, W_K=0.5 * eta, W_V=2 * eta, W_O=eta)
    mine = train_toy(params, task, lrs, steps=15, causal=causal)
    ref = train(params, task.X[0], task.y[0], lrs, steps=15, causal=causal,
                record=("loss", "attn_entropy", "score_grad_norm", "value_grad_norm"))
    assert np.allclose(mine.losses, ref.losses, rtol=1e-12, atol=1e-15)
    assert np.allclose(mine.attn_entropy.mean(axis=1), ref.attn_entropy, rtol=1e-10, atol=1e-14)
    assert np.allclose(mine.score_grad_norm, ref.score_grad_norm, rtol=1e-10, atol=1e-16)
    assert np.allclose(mine.value_grad_norm, ref.value_grad_norm, rtol=1e-10, atol=1e-16)
    for name, w in ref.params.as_dict().items():
        assert np.allclose(getattr(mine, name)[-1], w, rtol=1e-10, atol=1e-13)
    assert np.isclose(mine.final_loss, ref.final_loss, rtol=1e-12)
    assert np.isclose(mine.final_accuracy, ref.final_accuracy)


@pytest.mark.parametrize("causal", [True, False])
def test_the_two_engines_agree(split, causal):
    task, _ = split
    params = toy_init(task, scale=0.6, rng=5)
    lrs = LearningRates.em_like(0.5, 4.0)
    fast = train_toy(params, task, lrs, steps=12, causal=causal)
    slow = train_toy(params, task, lrs, steps=12, causal=causal, engine="loop")
    for field in ("losses", "accuracy", "attn_entropy", "evidence_attn", "score_grad_norm",
                  "value_grad_norm", "W_Q", "W_K", "W_V", "W_O"):
        assert np.allclose(getattr(fast, field), getattr(slow, field), rtol=1e-10, atol=1e-14), field
    assert fast.final_loss == pytest.approx(slow.final_loss, rel=1e-12)


def test_history_and_trainer_validate(split, run):
    task, _ = split
    assert run.steps == 60 and run.W_V.shape == (61, 8, 2)
    assert np.array_equal(run.params_at(0).W_Q, toy_init(task, scale=0.5, rng=0).W_Q)
    with pytest.raises(ValueError, match=r"t must be in \[0, 60\]"):
        run.params_at(61)
    with pytest.raises(ValueError, match="engine must be"):
        train_toy(toy_init(task, rng=0), task, LearningRates.sgd(1.0), steps=1, engine="gpu")
    with pytest.raises(TypeError, match="lrs must be"):
        train_toy(toy_init(task, rng=0), task, 0.1, steps=1)
    empty = train_toy(toy_init(task, rng=0), task, LearningRates.sgd(1.0), steps=0)
    assert empty.steps == 0 and empty.W_Q.shape == (1, 8, 2)


def test_the_chapters_run_learns_the_rule(split, run):
    task, held_out = split
    assert run.losses[0] > 1.0 and run.final_loss < 0.05
    assert attnlib.head.training.steps_to_reach(run.losses, 0.1) < 55
    assert batch_step(run.params_at(60), held_out).accuracy > 0.97
    assert np.all(run.evidence_attn[-1, 1:] > run.evidence_attn[0, 1:] + 0.2)


# --------------------------------------------------------------------------- the value law through W_V
def test_predicted_value_change_is_exact_and_the_kernel_form_holds(split):
    task, _ = split
    params = toy_init(task, scale=0.9, rng=11)
    step = batch_step(params, task)
    eta = 0.7
    after = attnlib.Params(params.W_Q, params.W_K, params.W_V - eta * step.weight_grads.W_V, params.W_O)
    moved = task.X @ after.W_V - task.X @ params.W_V  # (B, N, d_v)
    assert np.allclose(moved, predicted_value_change(step, task, eta), rtol=1e-12, atol=1e-15)
    pulls = value_pulls(step, task)  # (C, N, d_v)
    table_moved = value_table(after, 3) - value_table(params, 3)
    kernel = eta * (pulls.sum(axis=1, keepdims=True) + pulls.sum(axis=0, keepdims=True))
    assert np.allclose(table_moved, kernel, rtol=1e-12, atol=1e-15)
    # the symbol part's gradient collects the pulls on every token of that symbol
    assert np.allclose(-step.weight_grads.W_V[:3], pulls.sum(axis=1), atol=1e-15)
    with pytest.raises(TypeError, match="eta must be a number"):
        predicted_value_change(step, task, "1")


def test_value_pulls_are_zero_for_kinds_absent_from_the_batch():
    task = toy_task([[0, 0, 0, 0, 0], [0, 1, 0, 1, 0]])
    pulls = value_pulls(batch_step(toy_init(task, rng=0), task), task)
    assert np.all(pulls[2] == 0.0)  # symbol 2 never occurs
    assert np.all(pulls[1, [0, 2, 4]] == 0.0) and np.any(pulls[1, 1] != 0.0)


def test_value_table_and_trajectories(run):
    paths = value_trajectories(run, 3)
    assert paths.shape == (61, 3, 5, 2)
    for t in (0, 17, 60):
        assert np.allclose(paths[t], value_table(run.params_at(t), 3))
    with pytest.raises(ValueError, match="more than n_classes"):
        value_table(attnlib.init_params(3, 2, 2, 3, rng=0), 3)


# --------------------------------------------------------------------------- analysis helpers
def test_attention_entropy():
    alpha = attnlib.masked_softmax(np.zeros((4, 4)), attnlib.causal_mask(4))  # uniform causal
    assert np.allclose(attention_entropy(alpha), np.log(np.arange(1, 5)))
    assert attention_entropy(np.eye(3)).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="non-negative"):
        attention_entropy([[-0.1, 1.1]])


def test_content_share():
    rng = np.random.default_rng(0)
    shares = [content_share(rng.normal(size=(3, 5, 2))) for _ in range(400)]
    assert abs(np.mean(shares) - 2 / 14) < 0.03  # (C - 1) / (C N - 1) for random values
    prototypes = np.repeat(rng.normal(size=(3, 1, 2)), 5, axis=1)  # (C, N, 2)
    assert content_share(prototypes) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="spread is zero"):
        content_share(np.ones((3, 5, 2)))


def test_evidence_advantage(split):
    task, _ = split
    step = batch_step(toy_init(task, scale=0.8, rng=2), task)
    adv = evidence_advantage(step, task)
    manual = [5 * np.mean([g.advantage[i, max(i - 1, 0)] for g in step.grads]) for i in range(5)]
    assert adv[0] == 0.0 and np.allclose(adv, manual)


def test_snapshot(split, run):
    task, _ = split
    snap = toy_snapshot(run, task, 30, sequence=3)
    step = batch_step(run.params_at(30), task)
    assert snap.step == 30 and snap.loss == pytest.approx(run.losses[30], rel=1e-12)
    assert np.allclose(snap.attn_mean.sum(axis=1), 1.0) and np.allclose(snap.attn, step.caches[3].attn)
    assert np.allclose(snap.compat, 5 * np.where(snap.mask, step.grads[3].compat, 0.0))
    assert np.array_equal(snap.tokens, task.tokens[3]) and np.array_equal(snap.targets, task.y[3])
    with pytest.raises(ValueError, match=r"sequence must be in \[0, 12\)"):
        toy_snapshot(run, task, 0, sequence=12)


def test_seed_study_and_table(split):
    task, held_out = split
    study = seed_study(task, held_out, LearningRates.sgd(1.0), seeds=[0, 1], steps=40)
    again = seed_study(task, held_out, LearningRates.sgd(1.0), seeds=[0, 1], steps=40)
    for key, values in study.items():
        assert np.array_equal(values, again[key], equal_nan=True), key
    assert study["evidence_by_query"].shape == (2, 4) and study["final_loss"].shape == (2,)
    one = summarize_run(train_toy(toy_init(task, rng=1), task, LearningRates.sgd(1.0), steps=40), task,
                        held_out)
    assert one["final_loss"] == pytest.approx(study["final_loss"][1])
    frozen = seed_study(task, held_out, LearningRates(1.0, 1.0, 0.0, 1.0), seeds=[0], steps=5)
    text = study_table({"learns": study, "frozen": frozen})
    assert "never" in text and text.count("\n") == 3 and " 0/1 " in text
    with pytest.raises(ValueError, match="at least one seed"):
        seed_study(task, held_out, LearningRates.sgd(1.0), seeds=[], steps=1)


# --------------------------------------------------------------------------- plots
def test_dynamics_plots_draw_and_validate(split, run):
    from attnlib.teaching.plots.dynamics import (compat_advantage_panels, grad_norm_curves, per_query_lines,
                                        toy_step_panels, value_plane)

    task, _ = split
    fig, axes = plt.subplots(2, 4)
    snap = toy_snapshot(run, task, 10, sequence=0)
    drawn = toy_step_panels(snap, axes[0], trail=value_trajectories(run, 3)[:11])
    assert drawn[0].images[0].get_clim() == (0.0, 1.0) and len(drawn[0].patches) == 5  # evidence cells
    assert drawn[1].get_title() == "step 10: values v = P_c + E_j"
    titles = [ax.get_title() for ax in compat_advantage_panels(snap, axes[1, :2])]
    assert titles[0].startswith("step 10: N·b_ij") and titles[1].startswith("step 10: N·A_ij")
    ax = per_query_lines(np.arange(60), run.attn_entropy, ax=axes[1, 2], queries=[1, 4], log_y=True)
    assert ax.get_yscale() == "log" and [line.get_label() for line in ax.lines] == ["query 1", "query 4"]
    ax = grad_norm_curves(np.arange(60), run.score_grad_norm, run.value_grad_norm, ax=axes[1, 3])
    assert len(ax.lines) == 2
    with pytest.raises(ValueError, match=r"values must have shape \(C, N, 2\)"):
        value_plane(np.ones((3, 5)), ax=axes[0, 1])
    with pytest.raises(ValueError, match="arrows must have the shape of values"):
        value_plane(np.ones((3, 5, 2)), arrows=np.ones((3, 4, 2)), ax=axes[0, 1])
    with pytest.raises(ValueError, match=r"readout must have shape \(2, 3\)"):
        value_plane(np.ones((3, 5, 2)), readout=np.ones((3, 2)), ax=axes[0, 1])
    with pytest.raises(ValueError, match="axes must hold 4 axes"):
        toy_step_panels(snap, axes[0, :2])
    with pytest.raises(ValueError, match=r"series must have shape \(3, N\)"):
        per_query_lines(np.arange(3), np.ones((4, 2)))
    plt.close("all")


# --------------------------------------------------------------------------- the slider
def test_explorer_repr_is_stable_and_the_slider_redraws(split, run):
    from attnlib.teaching.explorers import render_toy_step, toy_training_explorer

    task, _ = split
    explorer = toy_training_explorer(run, task, sequence=3)
    text = repr(explorer)
    assert text == "ToyTrainingExplorer(steps 0..60, sequence 3: 0 1 1 2 0; needs a live kernel)"
    if hasattr(explorer, "_repr_mimebundle_"):  # ipywidgets 8 (Colab ships 7.7, which has none)
        assert explorer._repr_mimebundle_()["text/plain"] == text
    assert "0x" not in text and explorer.model_id not in text
    first = explorer.image.value
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    explorer.slider.value = 40
    assert explorer.image.value != first
    assert explorer.image.value == render_toy_step(run, task, 40, sequence=3)  # deterministic drawing
    explorer.close()


def test_explorer_validates(split, run):
    from attnlib.teaching.explorers import toy_training_explorer

    task, _ = split
    with pytest.raises(TypeError, match="history must be an attnlib.dynamics.toy.ToyHistory"):
        toy_training_explorer(task, task)
    with pytest.raises(TypeError, match="task must be an attnlib.dynamics.toy.ToyTask"):
        toy_training_explorer(run, task.X)
    with pytest.raises(ValueError, match=r"sequence must be in \[0, 12\)"):
        toy_training_explorer(run, task, sequence=99)
    assert isinstance(run, ToyHistory) and isinstance(task, ToyTask)


def test_importing_attnlib_does_not_import_ipywidgets():
    code = "import sys, attnlib, attnlib.dynamics.toy, attnlib.teaching.explorers, attnlib.teaching.plots.dynamics; " \
           "print('ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
