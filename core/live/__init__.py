"""Live views of running runs, shared by every page of the app process watching the same run:
one read of the new points and one figure per run and state, however many viewers
(see ``_feed``). Each viewer's access is checked before anything shared is handed out."""

from core.live._feed import LiveFrame
from core.live._feed import forget_feeds
from core.live._feed import live_figure
from core.live._feed import live_frame
from core.live._feed import run_markers

__all__ = [
    "LiveFrame",
    "forget_feeds",
    "live_figure",
    "live_frame",
    "run_markers",
]
