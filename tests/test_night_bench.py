"""bullseye.night_bench: each step's peak memory is its own (VmHWM reset between steps), not the maximum so far.

Why the answer is right: the first step fills a 300 MB array (np.ones writes every page, so all of it is
resident) and frees it on return (an array that size is its own mapping, given back to the OS); the second
step allocates nothing, so its peak is the resident size after the free, at least 250 MB below the first's.
"""

from __future__ import annotations

import numpy as np

from bullseye.night_bench import measure, reset_peak


def test_each_step_has_its_own_peak_and_its_rows_per_second():
    assert reset_peak(), "this kernel cannot reset the peak-memory mark"
    big = measure("big", lambda: float(np.ones(300 * 2**20 // 8).sum()), rows=1_000)
    small = measure("small", lambda: None)
    assert big.peak_rss_mb - small.peak_rss_mb > 250, (big, small)
    # seconds are rounded to the millisecond and rows per second to 0.1
    assert 1_000 / (big.seconds + 0.0005) - 0.05 <= big.rows_per_second <= 1_000 / (big.seconds - 0.0005) + 0.05
    assert big.start_rss_mb < big.peak_rss_mb
    assert small.rows_per_second is None
