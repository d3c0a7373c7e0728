"""analytics.prediction_models names the models the domain knows, and reaches the options."""

from __future__ import annotations

from typing import get_args

import pytest

from greenloop.analytics.options import AnalyzeOptions
from greenloop.config import AnalyticsSettings, load_settings
from greenloop.domain.prediction_models import MODEL_NAMES
from greenloop.errors import ConfigError
from greenloop.services.analysis import analyze_options


def test_the_setting_allows_exactly_the_domain_models_and_defaults_to_all() -> None:
    annotation = AnalyticsSettings.model_fields["prediction_models"].annotation
    [literal, _ellipsis] = get_args(annotation)
    assert get_args(literal) == MODEL_NAMES
    assert AnalyticsSettings().prediction_models == MODEL_NAMES
    assert AnalyzeOptions.__dataclass_fields__["prediction_models"].default == MODEL_NAMES


def test_the_setting_reaches_the_analysis_options() -> None:
    settings = load_settings(
        None, env={"GREENLOOP_ANALYTICS__PREDICTION_MODELS": "pareto_nbd, nbd"}
    )
    assert analyze_options(settings).prediction_models == ("pareto_nbd", "nbd")


@pytest.mark.parametrize("models", [["prophet"], []])
def test_an_unknown_or_empty_model_list_is_refused(models: list[str]) -> None:
    with pytest.raises(ConfigError, match="prediction_models"):
        load_settings(None, env={}, overrides={"analytics": {"prediction_models": models}})
