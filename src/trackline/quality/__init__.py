"""Per-run quality and slice ("bias") reports, computed in the warehouse (design.md 3.4, 3.5).

`profile` and `slice_report` return JSON-ready dicts (`reports/<run>/quality.json`,
`slices.json`); `render_markdown` and `render_html` turn them into a readable report.
"""

from trackline.quality.profile import profile
from trackline.quality.render import render_html, render_markdown
from trackline.quality.slices import slice_report

__all__ = ["profile", "render_html", "render_markdown", "slice_report"]
