from __future__ import annotations

import inspect
import logging

import pytest

import greenloop.errors as errors
from greenloop.logs import RedactingFilter, redact


def test_every_exported_exception_subclasses_the_root() -> None:
    exported = [getattr(errors, name) for name in errors.__all__]
    classes = [obj for obj in exported if inspect.isclass(obj)]
    assert len(classes) == len(errors.__all__)
    for cls in classes:
        assert issubclass(cls, errors.GreenLoopError), cls


def test_import_row_error_names_file_line_column_and_fix() -> None:
    exc = errors.ImportRowError(
        "'12,3,4' is not an amount",
        file="orders.csv",
        line=7,
        column="order_total",
        hint="write it as 1234.56",
    )
    assert (
        exc.one_line()
        == "orders.csv:7: order_total: '12,3,4' is not an amount, write it as 1234.56"
    )


def test_redact_masks_secrets_and_bearer_tokens() -> None:
    text = "GET failed, Authorization: Bearer lsxs_pt_abc.def token=lsxs_pt_abc.def"
    cleaned = redact(text, ["lsxs_pt_abc.def"])
    assert "lsxs_pt_abc" not in cleaned
    assert "Bearer ***" in cleaned


def test_log_filter_redacts_formatted_arguments(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("greenloop.test")
    caplog.handler.addFilter(RedactingFilter(["sekrit-token"]))
    with caplog.at_level(logging.INFO):
        logger.info("token is %s", "sekrit-token")
    assert "sekrit-token" not in caplog.text
    assert "***" in caplog.text
