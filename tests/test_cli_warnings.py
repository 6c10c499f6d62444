"""The CLI drops only the warnings it knows to be noise: any other goes to the log file, not the console."""

from __future__ import annotations

import logging
import warnings

import pytest

from bullseye import cli


@pytest.fixture
def restore_logging():
    """_setup_logging rewires the root logger and the warnings hook: put both back after the test.

    An earlier test that ran the CLI leaves logging believing it still captures warnings (pytest
    has since put ``warnings.showwarning`` back), so capture is reset before this test too."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    logging.captureWarnings(False)
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)
    logging.captureWarnings(False)


def test_an_unexpected_warning_reaches_the_log_and_known_noise_does_not(tmp_path, capsys, restore_logging):
    with warnings.catch_warnings():
        warnings.simplefilter("default")  # as a developer runs it (-W default): nothing hidden by Python itself
        cli._setup_logging(tmp_path)
        warnings.warn_explicit("new: unit price is negative", UserWarning, "bullseye/clv.py", 10,
                               module="bullseye.clv")
        warnings.warn_explicit("Using extra keyword arguments on `Field` is deprecated", DeprecationWarning,
                               "pymc_marketing/mmm/budget_optimizer.py", 602,
                               module="pymc_marketing.mmm.budget_optimizer")
        warnings.warn_explicit("a deprecation in our own code", DeprecationWarning, "bullseye/publish.py", 5,
                               module="bullseye.publish")
    log = (tmp_path / "bullseye.log").read_text(encoding="utf-8")
    assert "UserWarning: new: unit price is negative" in log
    assert "DeprecationWarning: a deprecation in our own code" in log
    assert "extra keyword arguments" not in log
    out = capsys.readouterr()
    assert (out.out, out.err) == ("", "")
