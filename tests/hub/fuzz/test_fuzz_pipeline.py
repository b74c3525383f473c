"""Bad input never crashes the pipeline: any payload ends as a ticket change or a dead letter
with a reason, and normalize never raises anything but a SkipRecord."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.config import load_config
from hub.pipeline.normalize import normalize
from hub.runtime import Hub
from hub.sdk import RawEvent, SkipRecord
from hub.store.db import make_engine
from tests.conftest import REPO

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)
# payloads shaped like the IVR sample, with any value anywhere
ivr_like = st.fixed_dictionaries(
    {"event": st.sampled_from(["request.created", "request.note", "request.status"]) | json_values},
    optional={
        "request": st.fixed_dictionaries(
            {},
            optional={
                k: json_values | st.text()
                for k in (
                    "reference",
                    "category",
                    "summary",
                    "description",
                    "department",
                    "urgency",
                    "address",
                    "received_at",
                )
            },
        ),
        "caller": st.fixed_dictionaries({}, optional={k: json_values for k in ("name", "callback_number", "email")}),
        "note": st.fixed_dictionaries({}, optional={"text": json_values}),
        "status": json_values,
    },
)


def example_hub(tmp_path_factory) -> Hub:
    tmp = tmp_path_factory.mktemp("fuzz")
    return Hub(load_config(REPO / "config" / "example.yaml"), engine=make_engine(f"sqlite:///{tmp / 'x.db'}"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.binary(max_size=200)
    | json_values.map(lambda v: json.dumps(v).encode())
    | ivr_like.map(lambda v: json.dumps(v).encode())
)
def test_normalize_only_ever_skips(tmp_path_factory, body):
    hub = getattr(test_normalize_only_ever_skips, "hub", None) or example_hub(tmp_path_factory)
    test_normalize_only_ever_skips.hub = hub  # type: ignore[attr-defined]
    try:
        events = normalize(hub, "intake", RawEvent("k", body))
    except SkipRecord as exc:
        assert str(exc), "a rejection must carry a reason"
    else:
        assert all(e["instance"] == "intake" for e in events)
