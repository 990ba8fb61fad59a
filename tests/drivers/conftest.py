"""Driver tests own threads and processes: any test that leaves one running fails."""
from __future__ import annotations

from leaks import no_leftover_threads_or_processes  # noqa: F401  (an autouse fixture)
