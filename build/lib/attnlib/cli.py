"""The command line: ``python -m attnlib COMMAND ...``.

Each command lives in a ``register(subparsers)`` function that adds its
sub-parser and sets ``handler=`` (a function ``args -> exit code``).
:data:`COMMANDS` lists them: ``reproduce`` (chapter 8), ``assignments build``
and ``sweep`` (chapter 10); a new command adds its ``register`` to that tuple.

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


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    return value


# --------------------------------------------------------------------------- reproduce sticky-chain
def register_reproduce(subparsers) -> None:
    """``attnlib reproduce EXPERIMENT``: re-run one of the paper's experiments."""
    from .tasks import PAPER_SEEDS

    reproduce = subparsers.add_parser(
        "reproduce", help="re-run one of the paper's experiments", description="Re-run one of the paper's experiments."
    )
    experiments = reproduce.add_subparsers(dest="experiment", metavar="EXPERIMENT", parser_class=_Parser)
    sc = experiments.add_parser(
        "sticky-chain",
        help="SGD vs EM-like learning rates on the sticky Markov chain (the paper's table)",
        description=(
            "The paper's sticky Markov-chain table: per seed, one sequence of N = T - 1 positions; "
            "an SGD arm (base LR on every matrix) and an EM-like arm (value-ratio x base LR on W_V), "
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
                    help="worker processes (default: one per core)")  # fmt: skip
    # Hidden: a shorter chain for tests and quick looks (the paper's is T = 2000).
    sc.add_argument("--T", type=_int_at_least(2, "T"), default=2000, help=argparse.SUPPRESS)
    sc.set_defaults(handler=_reproduce_sticky_chain)


def _reproduce_sticky_chain(args) -> int:
    from tqdm import tqdm

    from .engine import PAPER_STICKY_CHAIN, run_sticky_chain, summarize_sticky_chain
    from .tasks import transition_matrix

    task_kwargs = {
        "T": args.T,
        "n_symbols": args.n_symbols,
        "self_prob": args.self_prob,
        "published": not args.exact_self_prob,
    }
    P = transition_matrix(args.n_symbols, args.self_prob, published=not args.exact_self_prob)  # validates early
    if args.json is not None and not args.json.resolve().parent.is_dir():
        raise ValueError(f"--json: directory {str(args.json.parent)!r} does not exist")
    quiet = args.quiet or not sys.stderr.isatty()
    start = time.perf_counter()
    with tqdm(total=args.steps, desc="sticky-chain", unit="step", file=sys.stderr, disable=quiet) as bar:
        results = run_sticky_chain(
            args.seeds,
            steps=args.steps,
            value_ratio=args.value_ratio,
            base_lr=args.base_lr,
            task_kwargs=task_kwargs,
            progress=lambda t: bar.update(t - bar.n),
            workers=args.workers,
        )
    wall = time.perf_counter() - start
    report = summarize_sticky_chain(results, steps=args.steps)
    report = {
        "seeds": report["seeds"],
        "steps": report["steps"],
        "H_min": report["H_min"],
        "wall_seconds": wall,
        "config": {
            "T": args.T,
            "N": args.T - 1,
            "n_symbols": args.n_symbols,
            "self_prob": args.self_prob,
            "published_construction": not args.exact_self_prob,
            "effective_self_prob": float(P[0, 0]),
            "base_lr": args.base_lr,
            "value_ratio": args.value_ratio,
        },
        "per_seed": report["per_seed"],
        "summary": report["summary"],
        "paper": PAPER_STICKY_CHAIN,
    }
    print(format_sticky_chain(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


def _pm(stats: dict, digits: int = 4) -> str:
    if stats.get("mean") is None:
        return "never reached"
    return f"{stats['mean']:.{digits}f} ± {stats['std']:.{digits}f}"


def format_sticky_chain(report: dict) -> str:
    """The paper's table beside this run's, as text ("—" where the paper gives no number)."""
    s, paper, cfg = report["summary"], report["paper"], report["config"]
    construction = "the authors' construction" if cfg["published_construction"] else "exact"
    lines = [
        f"Sticky Markov chain: {cfg['n_symbols']} symbols, self-transition {cfg['effective_self_prob']:.4f} "
        f"({construction}), N = {cfg['N']}, {report['steps']} steps, seeds {' '.join(map(str, report['seeds']))}",
        f"SGD: lr {cfg['base_lr']:g} on every matrix; EM-like: lr {cfg['value_ratio'] * cfg['base_lr']:g} on W_V, "
        f"{cfg['base_lr']:g} elsewhere. Mean ± population std over seeds.",
        "",
        f"  {'':34s}{'paper':>16s}   {'this run':<22s}",
    ]
    rows = []
    for arm, label in (("sgd", "SGD"), ("em", "EM-like")):
        rows.append((f"{label} final loss (nats)", "—", _pm(s[arm]["final_loss"])))
        rows.append((f"{label} final entropy (nats)", "—", _pm(s[arm]["final_entropy"])))
        rows.append((f"{label} final accuracy", "—", _pm(s[arm]["final_accuracy"])))
    rows.append(("H_min (nats)", "—", f"{report['H_min']:.4f}"))
    em = s["em_steps_to_sgd"]
    pe = paper["em_steps_to_sgd"]
    rows.append(("EM steps to SGD mean final loss", f"{pe['mean']:.0f} ± {pe['std']:.0f}", _pm(em, 1)))
    speedup = "—" if s["speedup"] is None else f"{s['speedup']:.2f}x"
    rows.append((f"speed-up ({report['steps']} / that)", f"{paper['speedup']:.1f}x", speedup))
    rows.append(("wall seconds", "—", f"{report['wall_seconds']:.1f}"))
    for name, p, r in rows:
        lines.append(f"  {name:34s}{p:>16s}   {r}")
    lines += ["", f"  {'seed':>6s}  {'SGD final loss':>15s}  {'EM final loss':>14s}  {'EM steps to SGD mean':>21s}"]
    for e in report["per_seed"]:
        steps = "never" if e["em_steps_to_sgd"] is None else str(e["em_steps_to_sgd"])
        lines.append(f"  {e['seed']:>6d}  {e['sgd']['final_loss']:>15.4f}  {e['em']['final_loss']:>14.4f}  {steps:>21s}")
    lines.append(f"  threshold (mean SGD final loss): {s['sgd_mean_final_loss']:.4f}")
    if report["steps"] != paper["steps"]:
        lines.append(f"  note: the paper ran {paper['steps']} steps; this run {report['steps']}.")
    if em["n_reached"] < len(report["per_seed"]):
        lines.append(f"  note: {len(report['per_seed']) - em['n_reached']} seed(s) never reached the threshold; "
                     "the mean is over the others.")  # fmt: skip
    return "\n".join(lines)


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
    build.set_defaults(handler=_assignments_build)


def _assignments_build(args) -> int:
    from .assignments import build_assignments

    result = build_assignments(args.out_dir, args.notebooks)
    print(f"{len(result.notebooks)} chapters")
    print(f"student:    {result.student_dir}  ({result.student_zip.name})")
    print(f"instructor: {result.instructor_dir}  ({result.instructor_zip.name})")
    return 0


# --------------------------------------------------------------------------- sweep
def register_sweep(subparsers) -> None:
    """``attnlib sweep VARIANT...``: chapter 10's grid of variants x arms x seeds."""
    from .sweep import DEFAULT_SEEDS, GROUPS, VARIANTS

    listing = "\n".join(f"  {name:11s} {v.about}" for name, v in VARIANTS.items())
    listing += "\n" + "\n".join(f"  {name:11s} shorthand for: {' '.join(names)}" for name, names in GROUPS.items())
    sw = subparsers.add_parser(
        "sweep",
        help="chapter 10: LayerNorm, residual, heads, Adam and query diversity, each arm, each seed",
        description=(
            "Chapter 10's grid on the reduced sticky chain (N = T - 1 positions, float64 torch autograd): "
            "for every VARIANT and seed, a uniform arm (base rate on every matrix; the paper's SGD arm) "
            "and an EM-like arm (value-ratio x base rate on W_V), from the authors' initial weights. "
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
    sw.add_argument("--base-lr", type=_finite_float, default=0.01, help="uniform arm's SGD rate (default 0.01)")
    sw.add_argument("--adam-lr", type=_finite_float, default=3e-5, help="uniform arm's Adam rate (default 3e-5)")
    sw.add_argument("--value-ratio", type=_finite_float, default=10.0,
                    help="EM-like arm: W_V rate / base rate (default 10)")  # fmt: skip
    sw.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON to PATH")
    sw.add_argument("--no-curves", action="store_true", help="leave the per-step curves out of the JSON")
    sw.add_argument("--quiet", action="store_true", help="no progress bar")
    sw.set_defaults(handler=_sweep)


def _sweep(args) -> int:
    from tqdm import tqdm

    from .sweep import count_batches, format_sweep, run_sweep, summarize_sweep

    if args.json is not None and not args.json.resolve().parent.is_dir():
        raise ValueError(f"--json: directory {str(args.json.parent)!r} does not exist")
    total = count_batches(args.variants) * args.steps  # validates the names too
    quiet = args.quiet or not sys.stderr.isatty()
    start = time.perf_counter()
    with tqdm(total=total, desc="sweep", unit="step", file=sys.stderr, disable=quiet) as bar:
        result = run_sweep(
            args.variants,
            seeds=args.seeds,
            steps=args.steps,
            T=args.T,
            base_lr=args.base_lr,
            adam_lr=args.adam_lr,
            value_ratio=args.value_ratio,
            progress=lambda t: bar.update(t - bar.n),
        )
    wall = time.perf_counter() - start
    print(format_sweep(result))
    if args.json is not None:
        report = summarize_sweep(result, curves=not args.no_curves)
        report["wall_seconds"] = wall
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
