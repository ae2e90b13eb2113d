"""The retraining decision: every event since the cursor counts, one event retrains once."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from energy_assets.monitoring.retrain_policy import (
    MonitoringEvent,
    RetrainThresholds,
    decide,
)

THRESHOLDS = RetrainThresholds(max_drift_share=0.5, max_mape=0.15)


def drift(partition: str, share: float, storage_id: int, dataset_drift=None) -> MonitoringEvent:
    return MonitoringEvent("drift", partition, storage_id, share, dataset_drift)


def accuracy(
    partition: str, mape: float, storage_id: int, coverage: float | None = None
) -> MonitoringEvent:
    return MonitoringEvent("accuracy", partition, storage_id, mape, coverage=coverage)


def test_a_miscalibrated_band_retrains_even_when_mape_is_fine():
    # Defaults: coverage must stay within 0.65..0.95 of the nominal 0.80.
    too_narrow = decide([accuracy("2023-01-05", 0.04, 9, coverage=0.52)], THRESHOLDS)
    assert too_narrow.retrain and too_narrow.run_key == "retrain:accuracy:2023-01-05"
    assert too_narrow.reason == (
        "MAPE 4% ≤ 15% on 2023-01-05, p10–p90 coverage 52% outside 65%–95%"
    )
    assert decide([accuracy("2023-01-05", 0.04, 9, coverage=0.97)], THRESHOLDS).retrain
    calibrated = decide([accuracy("2023-01-05", 0.04, 9, coverage=0.81)], THRESHOLDS)
    assert not calibrated.retrain
    assert calibrated.reason.endswith("p10–p90 coverage 81% inside 65%–95%")
    # Unscored band (older materialisations, no p10 / p90): MAPE alone decides.
    assert not decide([accuracy("2023-01-05", 0.04, 9, coverage=math.nan)], THRESHOLDS).retrain
    strict = RetrainThresholds(min_coverage=0.75, max_coverage=0.85)
    assert decide([accuracy("2023-01-05", 0.04, 9, coverage=0.72)], strict).retrain


def test_over_threshold_retrains_with_a_stable_run_key():
    decision = decide([drift("2023-01-05", 0.8, 11), accuracy("2023-01-05", 0.2, 12)], THRESHOLDS)
    assert decision.retrain
    assert decision.run_key == "retrain:accuracy:2023-01-05+drift:2023-01-05"
    assert [e.storage_id for e in decision.triggering] == [11, 12]
    assert decision.reason == "drift share 0.80 > 0.50 on 2023-01-05; MAPE 20% > 15% on 2023-01-05"


def test_under_threshold_skips_with_a_readable_reason():
    decision = decide([drift("2023-01-05", 0.21, 3), accuracy("2023-01-04", 0.041, 4)], THRESHOLDS)
    assert not decision.retrain and decision.run_key is None and decision.triggering == []
    assert decision.reason == "drift share 0.21 ≤ 0.50 on 2023-01-05; MAPE 4.1% ≤ 15% on 2023-01-04"


def test_every_event_between_ticks_counts_not_only_the_newest():
    # The bad report came first; a calm one landed after it before the sensor ticked.
    events = [accuracy("2023-01-06", 0.30, 20), accuracy("2023-01-07", 0.05, 21)]
    decision = decide(events, THRESHOLDS)
    assert decision.retrain
    assert decision.run_key == "retrain:accuracy:2023-01-06"


def test_same_events_give_the_same_run_key_whatever_the_order_or_rematerialisation():
    events = [drift("2023-01-05", 0.9, 7), accuracy("2023-01-05", 0.4, 8)]
    first = decide(events, THRESHOLDS)
    again = decide(list(reversed(events)), THRESHOLDS)
    # The same partition re-materialised later (new storage id) is the same event.
    rematerialised = decide(
        [drift("2023-01-05", 0.7, 30), accuracy("2023-01-05", 0.3, 31)], THRESHOLDS
    )
    assert first.run_key == again.run_key == rematerialised.run_key
    other_day = decide([drift("2023-01-06", 0.9, 40)], THRESHOLDS)
    assert other_day.run_key != first.run_key


def test_no_events_and_unscored_accuracy_do_not_retrain():
    assert not decide([], THRESHOLDS).retrain
    unscored = decide([accuracy("2023-01-05", math.nan, 5)], THRESHOLDS)
    assert not unscored.retrain
    assert "not available" in unscored.reason


def test_require_dataset_drift_needs_evidentlys_verdict():
    strict = RetrainThresholds(max_drift_share=0.3, require_dataset_drift=True)
    assert not decide([drift("2023-01-05", 0.4, 1, dataset_drift=False)], strict).retrain
    assert decide([drift("2023-01-05", 0.4, 1, dataset_drift=True)], strict).retrain


def test_many_events_keep_the_run_key_and_reason_bounded():
    events = [accuracy(f"2023-02-{day:02d}", 0.5, day) for day in range(1, 29)]
    decision = decide(events, THRESHOLDS)
    assert decision.retrain and len(decision.run_key) <= 200
    assert decision.run_key == decide(events, THRESHOLDS).run_key
    assert decision.reason.endswith("and 22 more")


event_strategy = st.builds(
    MonitoringEvent,
    kind=st.sampled_from(["drift", "accuracy"]),
    partition_key=st.sampled_from(["2023-01-04", "2023-01-05", "2023-01-06"]),
    storage_id=st.integers(min_value=1, max_value=10_000),
    value=st.floats(min_value=0, max_value=2) | st.just(math.nan),
    dataset_drift=st.sampled_from([None, True, False]),
    coverage=st.none() | st.just(math.nan) | st.floats(min_value=0, max_value=1),
)


@settings(max_examples=200, deadline=None)
@given(events=st.lists(event_strategy, max_size=12), seed=st.randoms())
def test_decision_does_not_depend_on_event_order(events, seed):
    shuffled = list(events)
    seed.shuffle(shuffled)
    first, second = decide(events, THRESHOLDS), decide(shuffled, THRESHOLDS)
    assert first.retrain == second.retrain and first.run_key == second.run_key
    # Retrain exactly when some event is over its threshold.
    over = any(
        (
            not math.isnan(e.value)
            and e.value > (THRESHOLDS.max_drift_share if e.kind == "drift" else THRESHOLDS.max_mape)
        )
        or (
            e.kind == "accuracy"
            and e.coverage is not None
            and not math.isnan(e.coverage)
            and not THRESHOLDS.min_coverage <= e.coverage <= THRESHOLDS.max_coverage
        )
        for e in events
    )
    assert first.retrain == over
