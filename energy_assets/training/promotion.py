"""Which configuration serves after a retrain: a pure decision, scores in, decision out.

A retrain compares two CONFIGURATIONS on the same backtest window: the one tuning picked and the
current champion's, both refit on the data up to the window's cutoff (so neither has seen the
window's actuals). Whichever wins is then fitted on the whole window and becomes `champion`, so
the model that serves has always seen the newest data; the other becomes `challenger`.

The tuned configuration replaces the champion's only when its score is lower by more than
`margin` (PROMOTION_MARGIN): two seeds of the same configuration differ by about that much
(docs/decisions/0004-training-steps-and-promotion.md), so a smaller gap is noise, not a better
model. Otherwise the champion's configuration is kept and refit on the new data: a drift retrain
always refreshes the model, whichever configuration wins.

`energy_assets.training.steps.finalise` scores both, calls `decide`, fits and registers the
winner (and the loser), and writes `settled(...)` into the versions' tags and the asset's metadata.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from energy_assets.contracts import REGISTERED_MODEL_NAME

# Absolute pooled-MAPE margin (0.003 = 0.3 points) the tuned configuration must win by: about
# twice the spread of one configuration over LightGBM seeds on the shared slice (measured in
# docs/decisions/0004-training-steps-and-promotion.md).
PROMOTION_MARGIN = 0.003

Winner = Literal["candidate", "champion"]


@dataclass(frozen=True)
class Contender:
    """A configuration in the comparison: its score on the window (lower is better), its
    parameters, and for the champion its registry version."""

    score: float
    params: Mapping[str, Any] = field(default_factory=dict)
    version: str | None = None


def same_configuration(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return json.dumps(dict(a), sort_keys=True, default=str) == json.dumps(
        dict(b), sort_keys=True, default=str
    )


@dataclass(frozen=True)
class PromotionDecision:
    """Outcome of `decide`. winner: whose configuration is fitted on the whole window and
    becomes champion ("candidate": the tuned one; "champion": the current champion's, refit).
    why: the comparison as a sentence, before any version of this run exists."""

    winner: Winner
    candidate_score: float
    champion_score: float | None  # the champion's configuration on the same window; None: none
    previous_champion: str | None  # its version
    margin: float
    same_configuration: bool
    why: str

    @property
    def promoted(self) -> bool:
        """The tuned configuration replaced the champion's (or there was no champion)."""
        return self.winner == "candidate"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> PromotionDecision:
        return cls(**values)


def decide(
    candidate: Contender,
    champion: Contender | None,
    *,
    margin: float = PROMOTION_MARGIN,
    window: str = "the same backtest window",
) -> PromotionDecision:
    """Whose configuration serves: the tuned `candidate` only if it scores lower than the
    `champion`'s configuration by more than `margin`; there is no champion yet; else the champion's."""
    new = float(candidate.score)
    if champion is None:
        return PromotionDecision(
            winner="candidate",
            candidate_score=new,
            champion_score=None,
            previous_champion=None,
            margin=margin,
            same_configuration=False,
            why=f"The tuned configuration scored {new:.4f} on {window}; "
            f"{REGISTERED_MODEL_NAME} had no champion to beat.",
        )
    old, version = float(champion.score), champion.version
    if same_configuration(candidate.params, champion.params):
        return PromotionDecision(
            winner="champion",
            candidate_score=new,
            champion_score=old,
            previous_champion=version,
            margin=margin,
            same_configuration=True,
            why=f"Tuning picked champion version {version}'s own configuration "
            f"(score {old:.4f} on {window}): it is refit on the new data.",
        )
    gap = old - new
    compared = (
        f"The tuned configuration scored {new:.4f} against {old:.4f} for champion version "
        f"{version}'s configuration, both refit on the same data and scored on {window}"
    )
    if gap > margin:
        return PromotionDecision(
            winner="candidate",
            candidate_score=new,
            champion_score=old,
            previous_champion=version,
            margin=margin,
            same_configuration=False,
            why=f"{compared}: lower by {gap:.4f}, more than the {margin:.4f} margin of seed "
            "noise, so the tuned configuration replaces it.",
        )
    if gap > 0:
        relation = f"lower by only {gap:.4f}, not more than the {margin:.4f} margin of seed noise"
    else:
        relation = "equal" if gap == 0 else f"higher by {-gap:.4f}"
    return PromotionDecision(
        winner="champion",
        candidate_score=new,
        champion_score=old,
        previous_champion=version,
        margin=margin,
        same_configuration=False,
        why=f"{compared}: {relation}, so version {version}'s configuration stays and is refit "
        "on the new data.",
    )


def settled(
    decision: PromotionDecision,
    *,
    champion_version: str,
    challenger_version: str | None,
    training_end: str,
) -> str:
    """The decision as the sentence the versions' tags, the asset's metadata and the demo show:
    why, then what serves now (and what it trained on) and what is kept as challenger."""
    serving = (
        f"Version {champion_version} ({'the tuned' if decision.promoted else 'that'} "
        f"configuration fitted on data up to {training_end}) is champion"
    )
    if challenger_version is None:
        return f"{decision.why} {serving}."
    return f"{decision.why} {serving}; version {challenger_version} is challenger."


def tags(decision: PromotionDecision, reason: str, role: str) -> dict[str, str]:
    """The decision as model-version tags (`promotion.*`); role: champion or challenger."""
    return {
        "promotion.role": role,
        "promotion.winner": decision.winner,
        "promotion.candidate_score": f"{decision.candidate_score:.6g}",
        "promotion.champion_score": ""
        if decision.champion_score is None
        else f"{decision.champion_score:.6g}",
        "promotion.previous_champion": decision.previous_champion or "",
        "promotion.margin": f"{decision.margin:.6g}",
        "promotion.promoted": str(decision.promoted).lower(),
        "promotion.reason": reason[:5000],
    }
