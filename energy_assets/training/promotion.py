"""When a candidate model becomes the champion: a pure decision, scores in, decision out.

The model store (`energy_assets.training.model_store.promote_if_better`) scores the candidate and
the current champion on the SAME backtest window, calls `decide`, and applies the decision (the
`champion` alias and the decision's tags). Nothing here touches MLflow, so the rule is tested
and read on its own.

The rule: a strictly lower score (e.g. pooled MAPE) wins; the first model is champion by default;
a tie keeps the champion, except a refresh: the champion's own configuration retrained on newer
data ties it by construction when both are scored by configuration, and the newer model has seen
the newer hours, which is what a drift retrain is for.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from energy_assets.contracts import REGISTERED_MODEL_NAME, hour_text, utc


@dataclass(frozen=True)
class Contender:
    """A model in the comparison: its registry version, its score on the window (lower is
    better), its configuration and the last hour it trained on."""

    version: str
    score: float
    params: Mapping[str, Any] = field(default_factory=dict)
    training_end: datetime | None = None


@dataclass(frozen=True)
class PromotionDecision:
    """Outcome of `decide`; `reason` is a sentence for Dagster metadata and the version's tags."""

    promoted: bool
    champion_version: str  # the champion after the decision
    candidate_version: str
    candidate_score: float
    champion_score: float | None  # the previous champion on the same window; None if none
    reason: str

    def tags(self) -> dict[str, str]:
        """The decision as model-version tags (`promotion.*`)."""
        return {
            "promotion.candidate_score": f"{self.candidate_score:.6g}",
            "promotion.champion_score": ""
            if self.champion_score is None
            else f"{self.champion_score:.6g}",
            "promotion.promoted": str(self.promoted).lower(),
            "promotion.reason": self.reason,
        }


def refreshes(candidate: Contender, champion: Contender) -> str | None:
    """Why `candidate` is the champion's configuration retrained on newer data, or None."""
    same_config = json.dumps(dict(candidate.params), sort_keys=True, default=str) == json.dumps(
        dict(champion.params), sort_keys=True, default=str
    )
    new_end, old_end = candidate.training_end, champion.training_end
    if not same_config or new_end is None or old_end is None or utc(new_end) <= utc(old_end):
        return None
    return f"trained on data up to {hour_text(new_end)} (the champion's ends {hour_text(old_end)})"


def leak_note(champion: Contender, window_start: Any) -> str:
    """A warning when the champion's training data overlaps the backtest window."""
    if window_start is None or champion.training_end is None:
        return ""
    if utc(champion.training_end) >= utc(window_start):
        return (
            f" Note: the champion trained until {utc(champion.training_end).isoformat()}, inside "
            "this window, so its score is optimistic."
        )
    return ""


def decide(
    candidate: Contender,
    champion: Contender | None,
    *,
    window: str = "",
    window_start: Any = None,
) -> PromotionDecision:
    """Promote `candidate` over `champion` (None: there is none yet) on one backtest window.

    `window` names the window in the reason; `window_start` (its first origin) lets the reason
    flag a champion that trained on part of the window.
    """
    on_window = f" on {window}" if window else " on the same backtest window"
    new, score = candidate.version, float(candidate.score)
    if champion is None:
        return PromotionDecision(
            promoted=True,
            champion_version=new,
            candidate_version=new,
            candidate_score=score,
            champion_score=None,
            reason=(
                f"Version {new} is the first champion of {REGISTERED_MODEL_NAME} "
                f"(score {score:.4f}{on_window}; there was no champion to beat)."
            ),
        )
    old, old_score = champion.version, float(champion.score)
    if old == new:
        return PromotionDecision(
            promoted=False,
            champion_version=old,
            candidate_version=new,
            candidate_score=score,
            champion_score=score,
            reason=f"Version {new} already is the champion; nothing to do.",
        )
    leak = leak_note(champion, window_start)
    refresh = refreshes(candidate, champion) if score == old_score else None
    if score < old_score:
        promoted = True
        reason = (
            f"Version {new} beat champion version {old}{on_window}: score {score:.4f} < "
            f"{old_score:.4f}; it is the new champion.{leak}"
        )
    elif refresh:
        promoted = True
        reason = (
            f"Version {new} ties champion version {old}{on_window} (score {score:.4f}) with the "
            f"same configuration, {refresh}: the refreshed model is the new champion."
        )
    else:
        promoted = False
        relation = "ties" if score == old_score else "is worse than"
        reason = (
            f"Version {new} {relation} champion version {old}{on_window} (score {score:.4f} vs "
            f"{old_score:.4f}); champion stays version {old}.{leak}"
        )
    return PromotionDecision(
        promoted=promoted,
        champion_version=new if promoted else old,
        candidate_version=new,
        candidate_score=score,
        champion_score=old_score,
        reason=reason,
    )
