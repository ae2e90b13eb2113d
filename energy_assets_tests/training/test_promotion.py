"""promotion.decide: which configuration serves after a retrain, and the sentence saying why."""

from __future__ import annotations

import pytest

from energy_assets.training.promotion import Contender, decide, settled, tags

TUNED = {"num_leaves": 63}
CHAMPION = {"num_leaves": 31}


def test_first_model_is_champion():
    decision = decide(Contender(0.06, TUNED), None, margin=0.003)
    assert decision.promoted and decision.champion_score is None
    reason = settled(decision, champion_version="1", challenger_version=None, training_end="x")
    assert "no champion to beat" in reason and reason.endswith("is champion.")


@pytest.mark.parametrize(
    ("tuned", "champion", "winner", "says"),
    [
        (0.0500, 0.0540, "candidate", "lower by 0.0040, more than the 0.0030 margin"),
        (0.0500, 0.0520, "champion", "lower by only 0.0020, not more than the 0.0030 margin"),
        (0.0500, 0.0500, "champion", "equal, so version 4"),
        # The demo's case before this rule: the tuned configuration was worse.
        (0.2789, 0.2747, "champion", "higher by 0.0042"),
    ],
)
def test_the_tuned_configuration_must_win_by_more_than_the_margin(tuned, champion, winner, says):
    decision = decide(
        Contender(tuned, TUNED), Contender(champion, CHAMPION, "4"), margin=0.003, window="W"
    )
    assert decision.winner == winner and decision.previous_champion == "4"
    assert says in decision.why and "scored on W" in decision.why
    if winner == "champion":
        assert "version 4's configuration stays and is refit on the new data" in decision.why
    reason = settled(
        decision,
        champion_version="6" if winner == "champion" else "5",
        challenger_version="5" if winner == "champion" else "4",
        training_end="2023-01-16 23:00",
    )
    assert "fitted on data up to 2023-01-16 23:00) is champion" in reason
    assert "optimistic" not in reason
    assert (
        tags(decision, reason, "champion")["promotion.promoted"]
        == str(winner == "candidate").lower()
    )


def test_the_champions_own_configuration_is_a_refresh():
    decision = decide(Contender(0.05, dict(CHAMPION)), Contender(0.05, CHAMPION, "2"))
    assert decision.winner == "champion" and decision.same_configuration
    assert "own configuration" in decision.why
    assert decision.to_dict() == type(decision).from_dict(decision.to_dict()).to_dict()
