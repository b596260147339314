"""Drawing helpers for the chapters. They only draw: arrays (or a History) in, axes out;
the schematic diagrams of :mod:`.diagrams` take nothing and return a whole figure."""

from .basic import curves, grouped_bars, heatmap
from .chapter_map import chapter_map_figure
from .costs import flops_by_line, flops_vs_length
from .diagrams import em_correspondence, feedback_loop, head_graph
from .dynamics import (
    SYMBOL_COLORS,
    attention_panel,
    compat_advantage_panels,
    grad_norm_curves,
    mark_evidence,
    per_query_lines,
    toy_step_panels,
    value_plane,
)
from .geometry import component_scatter, entropy_mae_curves, explained_variance_bars, value_norm_curves
from .routing import routing_view_panels, step_size_errors
from .sticky import ARM_COLORS, arm_loss_curves, steps_strip, sweep_lines, train_vs_heldout
from .style import BOOK_STYLE, use_book_style
from .timescales import seed_bands
from .values import error_signal_arrows, value_update_quiver
from .variants import diversity_scatter, settling_dots, variant_panels

__all__ = [
    "BOOK_STYLE",
    "use_book_style",
    "curves",
    "grouped_bars",
    "heatmap",
    "chapter_map_figure",
    "head_graph",
    "feedback_loop",
    "em_correspondence",
    "flops_by_line",
    "flops_vs_length",
    "step_size_errors",
    "routing_view_panels",
    "error_signal_arrows",
    "value_update_quiver",
    "SYMBOL_COLORS",
    "attention_panel",
    "compat_advantage_panels",
    "grad_norm_curves",
    "mark_evidence",
    "per_query_lines",
    "toy_step_panels",
    "value_plane",
    "seed_bands",
    "ARM_COLORS",
    "arm_loss_curves",
    "steps_strip",
    "sweep_lines",
    "train_vs_heldout",
    "explained_variance_bars",
    "component_scatter",
    "value_norm_curves",
    "entropy_mae_curves",
    "diversity_scatter",
    "settling_dots",
    "variant_panels",
]
