"""Election settings: a config with any wrong field is refused with that field named."""
from __future__ import annotations

from typing import Any

import pytest

from kiosk.core.election import ConfigRefused, config_from_mapping

GOOD: dict[str, Any] = {
    "id": "majles-1405", "name": "مجلس", "date": "۱۴۰۵/۰۳/۰۱", "min_age": 18, "constituency": "تهران",
    "branches": [{"code": "1001", "name": "الف"}, {"code": "1002", "name": "ب"}],
}


def test_a_good_config_round_trips() -> None:
    config = config_from_mapping(GOOD)
    assert str(config.day) == "1405/03/01" and config.branch_codes() == {"1001", "1002"}
    assert config_from_mapping(config.to_mapping()) == config


@pytest.mark.parametrize("change, field", [
    ({"id": ""}, "id"),
    ({"id": "has space"}, "id"),
    ({"date": "1405/13/01"}, "date"),
    ({"date": "1404/12/30"}, "date"),
    ({"min_age": "18"}, "min_age"),
    ({"min_age": True}, "min_age"),
    ({"min_age": 5}, "min_age"),
    ({"branches": []}, "branches"),
    ({"branches": [{"code": "1001", "name": "a"}, {"code": "1001", "name": "b"}]}, "branches"),
    ({"branches": [{"code": "10 01", "name": "a"}]}, "branches"),
    ({"branches": ["1001"]}, "branches"),
    ({"constituency": None}, "constituency"),
    ({"card_trust_anchors": "ca.pem"}, "card_trust_anchors"),
])
def test_a_wrong_field_is_refused_by_name(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigRefused, match=f"^{field}"):
        config_from_mapping({**GOOD, **change})
