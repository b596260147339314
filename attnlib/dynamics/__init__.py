"""What training does (chapters 6-10): the experiments and the measurements made on them.

The toy feedback loop (:mod:`~attnlib.dynamics.toy`), the two timescales
(:mod:`~attnlib.dynamics.timescales`), the paper's table
(:mod:`~attnlib.dynamics.paper_table`) and the book's controls around it
(:mod:`~attnlib.dynamics.experiments`), the diagnostics of a trained head
(:mod:`~attnlib.dynamics.diagnostics`), and chapter 10's variants of the head
(:mod:`~attnlib.dynamics.variants`) with the sweep over them
(:mod:`~attnlib.dynamics.sweep`). Nothing here plots or prints to the screen:
functions return arrays, histories and text.
"""

from . import toy, variants
from .timescales import (
    settling_step,
    tail_change,
    timescale_metrics,
)
from .diagnostics import (
    compatibility,
    value_norm_growth,
    PCA,
    value_pca,
    effective_dimension,
    key_orthogonality,
    correlation_ratio,
    circular_mode_share,
    predictive_entropy_bits,
    entropy_mae_bits,
)
from .experiments import (
    RunSpec,
    RunSet,
    run_specs,
    SpeedUp,
    speedup,
    paired_speedups,
    plus_minus,
    format_speedups,
    matched_sgd_rate,
    loss_along,
    heldout_metrics,
    evaluate,
    heldout_curves,
)
from .paper_table import (
    PAPER_STICKY_CHAIN,
    run_sticky_chain,
    summarize_sticky_chain,
    format_paper_table,
    format_per_seed,
    format_report,
    METRICS,
)
from .sweep import (
    Variant,
    VARIANTS,
    QUANTITIES,
    DEFAULT_SEEDS,
    SweepRun,
    SweepResult,
    resolve_variants,
    count_batches,
    variant_rates,
    run_sweep,
    usage_spread,
    frame_lead,
    first_step_gain,
    variant_runset,
    summarize_sweep,
    format_sweep,
    GROUPS,
    base_rates,
)

__all__ = [
    "toy",
    "variants",
    "settling_step",
    "tail_change",
    "timescale_metrics",
    "compatibility",
    "value_norm_growth",
    "PCA",
    "value_pca",
    "effective_dimension",
    "key_orthogonality",
    "correlation_ratio",
    "circular_mode_share",
    "predictive_entropy_bits",
    "entropy_mae_bits",
    "RunSpec",
    "RunSet",
    "run_specs",
    "SpeedUp",
    "speedup",
    "paired_speedups",
    "plus_minus",
    "format_speedups",
    "matched_sgd_rate",
    "loss_along",
    "heldout_metrics",
    "evaluate",
    "heldout_curves",
    "PAPER_STICKY_CHAIN",
    "run_sticky_chain",
    "summarize_sticky_chain",
    "format_paper_table",
    "format_per_seed",
    "format_report",
    "Variant",
    "VARIANTS",
    "QUANTITIES",
    "DEFAULT_SEEDS",
    "SweepRun",
    "SweepResult",
    "resolve_variants",
    "count_batches",
    "variant_rates",
    "run_sweep",
    "usage_spread",
    "frame_lead",
    "first_step_gain",
    "variant_runset",
    "summarize_sweep",
    "format_sweep",
    "METRICS",
    "GROUPS",
    "base_rates",
]
