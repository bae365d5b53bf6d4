"""The host flag layer (docs/decision.md, "The layers"): the host's own option for this run."""

from __future__ import annotations

from dataclasses import replace

import pytest

from consent import DEFAULT_PROFILE, ReadContext
from consent.layers import HostFlag


def host_flag_layer(value, flag_name):
    profile = replace(DEFAULT_PROFILE, host_flag_name=flag_name)
    return HostFlag().read(ReadContext.now(profile, host_flag=value, env={}, cwd="/"))


@pytest.mark.parametrize(("value", "opinion"), [(True, "on"), (False, "off"), (None, None)])
def test_host_flag(value, opinion):
    layer = host_flag_layer(value, "--send-anonymous-usage-stats")
    assert layer.opinion == opinion
    if value is not None:
        assert layer.origin == "--send-anonymous-usage-stats"
