"""The command line: ``python -m attnlib COMMAND ...``.

Each command lives in a ``register(subparsers)`` function that adds its
sub-parser and sets ``handler=`` (a function ``args -> exit code``).
:data:`COMMANDS` lists them: ``reproduce`` (``sticky-chain``, chapter 8;
``deep-transformer``, chapter 11), ``assignments build`` and ``sweep``
(chapter 10); a new command adds its ``register`` to that tuple.

Errors a user can cause (a bad option, a value the library rejects) print
one line on stderr and exit with status 2; never a traceback.

Examples
--------
>>> main(["reproduce", "sticky-chain", "--steps", "-1"])  # doctest: +SKIP
attnlib reproduce sticky-chain: error: argument --steps: must be an integer >= 0, got '-1'
2
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

__all__ = ["main", "build_parser", "COMMANDS", "register_reproduce", "register_assignments", "register_sweep"]


class _UsageError(Exception):
    """A one-line usage error, raised instead of argparse's print-usage-and-exit."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _UsageError(f"{self.prog}: error: {message}")


# --------------------------------------------------------------------------- argument types
def _int_at_least(minimum: int, what: str) -> Callable[[str], int]:
    def convert(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}")
        return value

    convert.__name__ = what
    return convert


def _integer(text: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None


def _optimizer_rate(text: str) -> tuple[str, float]:
    name, sep, rate = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"must be OPTIMIZER=RATE (e.g. adam=3e-5), got {text!r}")
    return name, _finite_float(rate)


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    return value


def _add_device(parser, what: str) -> None:
    """The ``--device {cpu,cuda,auto}`` option every experiment command shares."""
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu",
                        help=f"where to compute: cpu (default), cuda ({what}; needs a CUDA GPU) "
                             "or auto (the GPU when torch finds one, else the CPU)")  # fmt: skip


def _device(args):
    """``--device`` resolved (:func:`attnlib._device.resolve_device`); a one-line error if it cannot be had."""
    from ._device import resolve_device

    return resolve_device(args.device, what="--device")


# --------------------------------------------------------------------------- reproduce sticky-chain
def register_reproduce(subparsers) -> None:
    """``attnlib reproduce EXPERIMENT``: re-run one of the paper's experiments."""
    from .chain.task import PAPER_SEEDS

    reproduce = subparsers.add_parser(
        "reproduce", help="re-run one of the paper's experiments", description="Re-run one of the paper's experiments."
    )
    experiments = reproduce.add_subparsers(dest="experiment", metavar="EXPERIMENT", parser_class=_Parser)
    sc = experiments.add_parser(
        "sticky-chain",
        help="SGD vs EM-like learning rates on the sticky Markov chain (the paper's table)",
        description=(
            "The paper's sticky Markov-chain table: per seed, one sequence of N = T - 1 positions; "
            "an SGD arm (the base learning rate on every matrix) and an EM-like arm (value-ratio x the base "
            "learning rate on W_V), "
            "full-batch, float32, the authors' RNG protocol. Prints the paper's numbers beside this run's."
        ),
    )
    sc.add_argument("--seeds", type=_integer, nargs="+", default=list(PAPER_SEEDS), metavar="SEED",
                    help="run seeds (default: the paper's 42 2024 1337 7777 9999)")  # fmt: skip
    sc.add_argument("--steps", type=_int_at_least(0, "steps"), default=1000, help="updates per run (default 1000)")
    sc.add_argument("--value-ratio", type=_finite_float, default=10.0,
                    help="EM-like arm: W_V learning rate / base learning rate (default 10)")  # fmt: skip
    sc.add_argument("--base-lr", type=_finite_float, default=0.01, help="base learning rate (default 0.01)")
    sc.add_argument("--exact-self-prob", action="store_true",
                    help="self-transition exactly --self-prob (default: the authors' construction, 0.3498)")  # fmt: skip
    sc.add_argument("--self-prob", type=_finite_float, default=0.3, help="nominal self-transition (default 0.3)")
    sc.add_argument("--n-symbols", type=_integer, default=8, help="number of symbols (default 8)")
    sc.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON to PATH")
    sc.add_argument("--quiet", action="store_true", help="no progress bar")
    sc.add_argument("--workers", type=_int_at_least(1, "workers"), default=None,
                    help="CPU engine: groups of runs advanced side by side, in threads on the compiled path, "
                         "in worker processes on the torch path (default: one per core, at most one per run, "
                         "for a large job; one for a small one)")  # fmt: skip
    sc.add_argument("--record-dynamics", action="store_true",
                    help="also record, per step, the attention entropy, the attention change, ||dL/dS|| and "
                         "||dL/dV|| (in the JSON)")  # fmt: skip
    sc.add_argument("--draws", choices=("cpu", "cuda"), default="cpu",
                    help="whose random draws to replay: the authors' script on a CPU (default, the book's table) "
                         "or on a GPU (its CUDA generator; needs a CUDA GPU)")  # fmt: skip
    _add_device(sc, "the ten runs as one batched float32 program, captured as a CUDA graph")
    # Hidden: a shorter chain for tests and quick looks (the paper's is T = 2000).
    sc.add_argument("--T", type=_int_at_least(2, "T"), default=2000, help=argparse.SUPPRESS)
    sc.set_defaults(handler=_reproduce_sticky_chain)

    deep = experiments.add_parser(
        "deep-transformer",
        help="the authors' deep variant: a 4-layer, 4-head pre-norm transformer on the sticky chain",
        description=(
            "The authors' second command (--deep): per seed, a pre-norm transformer trained full-batch with AdamW "
            "on the chain's training sequence and scored on a held-out sequence (seed + 10000), replaying the "
            "authors' random stream, so a seed gives their CPU losses. Prints held-out loss, entropy and accuracy "
            "measured both ways (dropout on, as the authors do; dropout off) beside H_min."
        ),
    )
    deep.add_argument("--seeds", type=_integer, nargs="+", default=list(PAPER_SEEDS), metavar="SEED",
                      help="run seeds (default: the paper's 42 2024 1337 7777 9999)")  # fmt: skip
    deep.add_argument("--steps", type=_int_at_least(0, "steps"), default=1000, help="updates per seed (default 1000)")
    deep.add_argument("--draws", choices=("cpu", "cuda"), default="cpu",
                      help="whose random draws to replay: the authors' script on a CPU (default) or on a GPU "
                           "(its CUDA generator for the data and the dropout masks; needs --device cuda)")  # fmt: skip
    _add_device(deep, "model and data on the GPU, one seed after the other")
    deep.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON to PATH")
    deep.add_argument("--quiet", action="store_true", help="no progress bar")
    deep.add_argument("--T", type=_int_at_least(2, "T"), default=2000, help=argparse.SUPPRESS)
    deep.set_defaults(handler=_reproduce_deep)


def _reproduce_sticky_chain(args) -> int:
    from tqdm import tqdm

    from .chain.task import ChainConfig
    from .dynamics.paper_table import (
        PAPER_STICKY_CHAIN,
        RECORD_DYNAMICS,
        format_report,
        run_sticky_chain,
        summarize_sticky_chain,
    )

    device = _device(args)
    chain = ChainConfig(T=args.T, n_symbols=args.n_symbols, self_prob=args.self_prob,
                        published=not args.exact_self_prob, draws=args.draws)  # fmt: skip
    if args.json is not None and not args.json.resolve().parent.is_dir():
        raise ValueError(f"--json: directory {str(args.json.parent)!r} does not exist")
    quiet = args.quiet or not sys.stderr.isatty()
    start = time.perf_counter()
    with tqdm(total=args.steps, desc="sticky-chain", unit="step", file=sys.stderr, disable=quiet) as bar:
        runs = run_sticky_chain(
            args.seeds,
            steps=args.steps,
            chain=chain,
            base_lr=args.base_lr,
            value_ratio=args.value_ratio,
            progress=lambda t: bar.update(t - bar.n),
            workers=args.workers,
            record=RECORD_DYNAMICS if args.record_dynamics else ("loss",),
            device=device.name,
        )
    wall = time.perf_counter() - start
    report = summarize_sticky_chain(runs)
    config = {
        **chain.as_dict(),
        "N": chain.N,
        "effective_self_prob": chain.effective_self_prob,
        "base_lr": args.base_lr,
        "value_ratio": args.value_ratio,
    }
    report = {**report, "wall_seconds": wall, "config": config, "paper": PAPER_STICKY_CHAIN,
              "device": device.name, "draws": args.draws}  # fmt: skip
    print(_where(device, args.draws))
    print(format_report(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


def _where(device, draws: str) -> str:
    """The output's line on where the arithmetic ran and where the data were drawn."""
    whose = {"cpu": "the authors' CPU stream", "cuda": "the authors' CUDA stream"}[draws]
    return f"device: {device.describe()}; draws: {draws} ({whose})"


def _reproduce_deep(args) -> int:
    from tqdm import tqdm

    from .chain.task import ChainConfig
    from .dynamics.deep import DeepConfig, format_deep, train_deep

    if args.json is not None and not args.json.resolve().parent.is_dir():
        raise ValueError(f"--json: directory {str(args.json.parent)!r} does not exist")
    if len(set(args.seeds)) != len(args.seeds):
        raise ValueError(f"seeds must be distinct, got {args.seeds}")
    device = _device(args)
    chain, config = ChainConfig(T=args.T, draws=args.draws), DeepConfig()
    quiet = args.quiet or not sys.stderr.isatty()
    start = time.perf_counter()
    runs = []
    with tqdm(total=args.steps * len(args.seeds), desc="deep-transformer", unit="step", file=sys.stderr,
              disable=quiet) as bar:  # fmt: skip
        for k, seed in enumerate(args.seeds):
            done = k * args.steps
            runs.append(train_deep(seed, steps=args.steps, config=config, chain=chain, device=device.name,
                                   progress=lambda t, d=done: bar.update(d + t - bar.n)))  # fmt: skip
    wall = time.perf_counter() - start
    report = {"seeds": list(args.seeds), "steps": args.steps, "device": device.name, "draws": args.draws,
              "wall_seconds": wall,
              "config": {**chain.as_dict(), "N": chain.N}, "per_seed": [run.as_dict() for run in runs]}  # fmt: skip
    print(_where(device, args.draws))
    print(format_deep(runs))
    print(f"wall seconds: {wall:.1f} ({device.name})")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


# --------------------------------------------------------------------------- assignments build
def register_assignments(subparsers) -> None:
    """``attnlib assignments build OUT_DIR``: student and instructor notebooks."""
    assignments = subparsers.add_parser(
        "assignments",
        help="student and instructor versions of the chapters",
        description="Student and instructor versions of the chapters, from one source.",
    )
    actions = assignments.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    build = actions.add_parser(
        "build",
        help="write OUT_DIR/student/, OUT_DIR/instructor/ and a zip of each",
        description=(
            "Write OUT_DIR/student/ (solutions removed, stubs that raise NotImplementedError, checkers kept), "
            "OUT_DIR/instructor/ (the full notebooks) and OUT_DIR/student.zip, OUT_DIR/instructor.zip."
        ),
    )
    build.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="where to write (created if missing)")
    build.add_argument("--notebooks", type=Path, default=None, metavar="DIR",
                       help="the chapter notebooks (default: this repository's notebooks/)")  # fmt: skip
    build.add_argument("--format", choices=("chapters", "otter"), default="chapters",
                       help="chapters: whole chapters, student and instructor (default); otter: Otter-Grader "
                            "assignments of each chapter's exercises, OUT_DIR/otter/NN_name/{student,autograder}/")
    build.set_defaults(handler=_assignments_build)


def _assignments_build(args) -> int:
    from .teaching._build_inputs import MissingExtra

    try:
        return _build_otter(args) if args.format == "otter" else _build_chapters(args)
    except MissingExtra as missing:
        print(f"attnlib assignments build: error: {missing}", file=sys.stderr)
        return 2


def _build_otter(args) -> int:
    from .teaching.otter_build import build_otter_assignments

    result = build_otter_assignments(args.out_dir, args.notebooks)
    print(f"{len(result.students)} Otter assignments in {result.root}")
    for name in result.students:
        print(f"{name}: {result.students[name].relative_to(result.root)}, {result.autograders[name].relative_to(result.root)}")
    return 0


def _build_chapters(args) -> int:
    from .teaching.assignments import build_assignments

    result = build_assignments(args.out_dir, args.notebooks)
    print(f"{len(result.notebooks)} chapters")
    print(f"student:    {result.student_dir}  ({result.student_zip.name})")
    print(f"instructor: {result.instructor_dir}  ({result.instructor_zip.name})")
    return 0


# --------------------------------------------------------------------------- sweep
def register_sweep(subparsers) -> None:
    """``attnlib sweep VARIANT...``: chapter 10's grid of variants x arms x seeds."""
    from .dynamics.sweep import DEFAULT_SEEDS, GROUPS, VARIANTS, base_rates

    listing = "\n".join(f"  {name:11s} {v.about}" for name, v in VARIANTS.items())
    listing += "\n" + "\n".join(f"  {name:11s} shorthand for: {' '.join(names)}" for name, names in GROUPS.items())
    sw = subparsers.add_parser(
        "sweep",
        help="chapter 10: LayerNorm, residual, heads, Adam, query diversity and attention dropout, "
             "each arm, each seed",
        description=(
            "Chapter 10's grid on the reduced sticky chain (N = T - 1 positions, float64 torch autograd): "
            "for every VARIANT and seed, an SGD arm (the optimiser's base learning rate on every matrix, as in "
            "the paper) and an EM-like arm (value-ratio x the base learning rate on W_V), from the authors' "
            "initial weights. "
            "Prints the EM-like speed-up and the settling steps of chapter 7; --json writes every run "
            "(spec, seed, arm, final metrics, per-step curves, timescale metrics) and a summary."
        ),
        epilog="variants:\n" + listing,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sw.add_argument("variants", nargs="+", metavar="VARIANT", choices=[*VARIANTS, *GROUPS],
                    help="variants to run (see the list below)")  # fmt: skip
    sw.add_argument("--seeds", type=_integer, nargs="+", default=list(DEFAULT_SEEDS), metavar="SEED",
                    help="run seeds (default: the paper's 42 2024 1337 7777 9999)")  # fmt: skip
    sw.add_argument("--steps", type=_int_at_least(101, "steps"), default=1000,
                    help="updates per run, > 100 (default 1000)")  # fmt: skip
    sw.add_argument("--T", type=_int_at_least(3, "T"), default=150, help="chain length; N = T - 1 (default 150)")
    defaults = " ".join(f"{name}={rate:g}" for name, rate in base_rates().items())
    sw.add_argument("--base-lr", type=_optimizer_rate, action="append", default=[], metavar="OPTIMIZER=RATE",
                    help=f"base learning rate of one optimiser (the SGD arm's rate), repeatable "
                         f"(default {defaults})")  # fmt: skip
    sw.add_argument("--value-ratio", type=_finite_float, default=10.0,
                    help="EM-like arm: W_V learning rate / base learning rate (default 10)")  # fmt: skip
    sw.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON to PATH")
    sw.add_argument("--no-curves", action="store_true", help="leave the per-step curves out of the JSON")
    sw.add_argument("--quiet", action="store_true", help="no progress bar")
    sw.add_argument("--workers", type=_int_at_least(1, "workers"), default=None,
                    help="batches trained side by side, in threads (default: one per core on the CPU)")  # fmt: skip
    _add_device(sw, "each variant's runs as one float64 batch on the GPU")
    sw.set_defaults(handler=_sweep)


def _sweep(args) -> int:
    from tqdm import tqdm

    from .dynamics.sweep import count_batches, format_sweep, run_sweep, summarize_sweep

    if args.json is not None and not args.json.resolve().parent.is_dir():
        raise ValueError(f"--json: directory {str(args.json.parent)!r} does not exist")
    device = _device(args)
    total = count_batches(args.variants) * args.steps  # validates the names too
    quiet = args.quiet or not sys.stderr.isatty()
    start = time.perf_counter()
    with tqdm(total=total, desc="sweep", unit="step", file=sys.stderr, disable=quiet) as bar:
        result = run_sweep(
            args.variants,
            seeds=args.seeds,
            steps=args.steps,
            T=args.T,
            base_lrs=dict(args.base_lr),
            value_ratio=args.value_ratio,
            progress=lambda t: bar.update(t - bar.n),
            device=device.name,
            workers=args.workers,
        )
    wall = time.perf_counter() - start
    print(_where(device, "cpu"))
    print(format_sweep(result))
    if args.json is not None:
        report = summarize_sweep(result, curves=not args.no_curves)
        report["wall_seconds"], report["device"] = wall, device.name
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


#: Every command's registration function, in the order ``--help`` lists them.
COMMANDS: tuple[Callable, ...] = (register_reproduce, register_assignments, register_sweep)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every command in :data:`COMMANDS`."""
    parser = _Parser(
        prog="attnlib",
        description="Companion code of 'Gradient Dynamics of Attention: How Cross-Entropy Sculpts Bayesian Manifolds'.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for register in COMMANDS:
        register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 2 usage error).

    Examples
    --------
    >>> main(["--help"])  # doctest: +ELLIPSIS
    usage: attnlib ...
    0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as error:
        print(str(error).replace("\n", " "), file=sys.stderr)
        return 2
    except SystemExit as done:  # --help / --version
        return int(done.code or 0)
    handler = getattr(args, "handler", None)
    if handler is None:
        if args.command is None:
            print("attnlib: error: choose a command (see attnlib --help)", file=sys.stderr)
        else:
            print(f"attnlib {args.command}: error: say what to {args.command} (see attnlib {args.command} --help)",
                  file=sys.stderr)  # fmt: skip
        return 2
    try:
        return int(handler(args))
    except (ValueError, TypeError) as error:
        print(f"attnlib: error: {str(error).splitlines()[0] if str(error) else type(error).__name__}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("attnlib: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
