"""What a person is told, as typed facts, each turned into one `Alert`.

A fact is what the Dagster layer observed (a run failed, a check failed, a model was decided on,
an asset went stale, and the recoveries); `fact.alert()` is the message: a one-line title, a few
named details, a link, and the incident it belongs to. An incident is what one alert announces
and one "resolved" closes: a job on a partition, a check on a partition, an asset's freshness.
A notice (a promotion decision) belongs to no incident and is sent once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from energy_assets.alerting._redact import redact

Status = Literal["firing", "resolved", "notice"]
Severity = Literal["error", "warning", "info"]

# What an alert is about; a check or a run failure may name one of these in its metadata
# (metadata_keys.ALERT_KIND) to be announced as it, e.g. a source-spec check of a frozen source.
ALERT_KINDS: dict[str, str] = {
    "run_failed": "Run failed",
    "retrain_failed": "Retrain failed",
    "check_failed": "Blocking check failed",
    "source_frozen": "Source looks frozen",
    "series_missing": "Series disappeared",
    "new_champion": "New champion",
    "challenger_lost": "Challenger lost",
    "freshness_missed": "Freshness deadline missed",
    "fallback_served": "Fallback forecasts served",
}
# Markers a check / failure may set (the rest are chosen by the fact itself).
MARKER_KINDS = ("source_frozen", "series_missing")
MAX_LINE = 300


@dataclass(frozen=True)
class Alert:
    """One message: `title` (one line) and `details` ((name, value) pairs) for a person,
    `link` to where to act, `incident_key` for dedupe (a notice's key is sent once)."""

    kind: str
    status: Status
    title: str
    details: tuple[tuple[str, str], ...] = ()
    link: str | None = None
    incident_key: str | None = None
    severity: Severity = "error"

    def redacted(self) -> Alert:
        """The same alert with credentials in URIs and secret parameters masked everywhere."""
        return replace(
            self,
            title=redact(self.title),
            details=tuple((name, redact(value)) for name, value in self.details),
            link=redact(self.link) if self.link else None,
        )


def first_line(text: str | None, limit: int = MAX_LINE) -> str:
    """The first non-empty line of `text`, at most `limit` characters ("" for none)."""
    for line in (text or "").splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


def partition_text(partition: str | None) -> str:
    """How a partition (or a range "start...end") is written in messages; "" for none."""
    return partition.replace("...", " → ") if partition else ""


def run_incident_key(job: str, partition: str | None) -> str:
    """A job on a partition (or range, or none): its failures, retries and recovery share it."""
    return f"run:{job}:{partition or '-'}"


def check_incident_key(asset: str, check: str, partition: str | None) -> str:
    return f"check:{asset}:{check}:{partition or '-'}"


def freshness_incident_key(asset: str) -> str:
    return f"freshness:{asset}"


def _kind(marker: str | None, default: str) -> str:
    return marker if marker in MARKER_KINDS else default


def _on(partition: str | None) -> str:
    return f" on {partition_text(partition)}" if partition else ""


@dataclass(frozen=True)
class RunFailed:
    """A run ended in failure. `error` is the failure's message (its first line is shown);
    `retrain` marks the retraining job; `marker` an ALERT_KIND the failure's metadata named."""

    job: str
    run_id: str
    run_url: str
    error: str
    partition: str | None = None
    retrain: bool = False
    marker: str | None = None

    def alert(self) -> Alert:
        kind = _kind(self.marker, "retrain_failed" if self.retrain else "run_failed")
        details = [("job", self.job)]
        if self.partition:
            details.append(("partition", partition_text(self.partition)))
        details += [("error", first_line(self.error) or "(no message)"), ("run", self.run_id)]
        return Alert(
            kind=kind,
            status="firing",
            title=f"{ALERT_KINDS[kind]}: {self.job}{_on(self.partition)}",
            details=tuple(details),
            link=self.run_url,
            incident_key=run_incident_key(self.job, self.partition),
        )


@dataclass(frozen=True)
class RunRecovered:
    """A later run of the same job and partition succeeded."""

    job: str
    run_id: str
    run_url: str
    partition: str | None = None

    def alert(self) -> Alert:
        return Alert(
            kind="run_failed",
            status="resolved",
            title=f"Resolved: {self.job}{_on(self.partition)} succeeded (run {self.run_id[:8]})",
            details=(("job", self.job), ("run", self.run_id)),
            link=self.run_url,
            incident_key=run_incident_key(self.job, self.partition),
            severity="info",
        )


@dataclass(frozen=True)
class CheckFailed:
    """A check that guards data (blocking, or marked by `marker`) failed on `partition`.

    offending_rows: rows breaking its expectations, when the check counts them.
    """

    asset: str
    check: str
    run_url: str
    partition: str | None = None
    offending_rows: int | None = None
    failed_expectations: str | None = None
    description: str | None = None
    marker: str | None = None

    def alert(self) -> Alert:
        kind = _kind(self.marker, "check_failed")
        details = [("check", f"{self.asset} / {self.check}")]
        if self.partition:
            details.append(("hours", partition_text(self.partition)))
        if self.offending_rows is not None:
            details.append(("offending rows", str(self.offending_rows)))
        if self.failed_expectations:
            details.append(("failed", first_line(self.failed_expectations)))
        if self.description:
            details.append(("what", first_line(self.description)))
        return Alert(
            kind=kind,
            status="firing",
            title=f"{ALERT_KINDS[kind]}: {self.check} of {self.asset}{_on(self.partition)}",
            details=tuple(details),
            link=self.run_url,
            incident_key=check_incident_key(self.asset, self.check, self.partition),
        )


@dataclass(frozen=True)
class CheckPassed:
    """The same check passed again on the same partition."""

    asset: str
    check: str
    run_url: str
    partition: str | None = None

    def alert(self) -> Alert:
        return Alert(
            kind="check_failed",
            status="resolved",
            title=f"Resolved: {self.check} of {self.asset}{_on(self.partition)} passes again",
            details=(("check", f"{self.asset} / {self.check}"),),
            link=self.run_url,
            incident_key=check_incident_key(self.asset, self.check, self.partition),
            severity="info",
        )


@dataclass(frozen=True)
class PromotionDecided:
    """A retrain decided on promotion: the tuned version became champion, or lost to the
    champion's configuration (refit on the same window as a new champion version).

    Scores are the backtest metric (lower is better); champion_score is None when there was no
    champion to beat."""

    model_version: str
    promoted: bool
    champion_version: str
    candidate_score: float | None
    champion_score: float | None
    reason: str
    link: str | None = None

    def alert(self) -> Alert:
        kind = "new_champion" if self.promoted else "challenger_lost"
        if self.promoted:
            title = f"New champion: version {self.model_version}"
        elif self.champion_version == self.model_version:
            title = f"Champion refreshed: version {self.model_version}, its configuration refit"
        else:
            # The champion's configuration won and was refit on the new window as a new version.
            title = (
                f"Challenger lost: version {self.model_version}; the champion's configuration, "
                f"refit on the new data, is version {self.champion_version}"
            )
        details = [("candidate score", _score(self.candidate_score))]
        details.append(("champion score", _score(self.champion_score)))
        details.append(("decision", first_line(self.reason)))
        return Alert(
            kind=kind,
            status="notice",
            title=title,
            details=tuple(details),
            link=self.link,
            incident_key=f"promotion:{self.model_version}",
            severity="info" if self.promoted else "warning",
        )


@dataclass(frozen=True)
class FreshnessMissed:
    """An asset's freshness policy says it is late (`state` FAIL, or WARN)."""

    asset: str
    state: str
    asset_url: str

    def alert(self) -> Alert:
        return Alert(
            kind="freshness_missed",
            status="firing",
            title=f"Freshness deadline missed: {self.asset} is {self.state.lower()}",
            details=(("asset", self.asset), ("freshness", self.state)),
            link=self.asset_url,
            incident_key=freshness_incident_key(self.asset),
            severity="error" if self.state == "FAIL" else "warning",
        )


@dataclass(frozen=True)
class FreshnessRestored:
    asset: str
    asset_url: str

    def alert(self) -> Alert:
        return Alert(
            kind="freshness_missed",
            status="resolved",
            title=f"Resolved: {self.asset} is fresh again",
            details=(("asset", self.asset),),
            link=self.asset_url,
            incident_key=freshness_incident_key(self.asset),
            severity="info",
        )


@dataclass(frozen=True)
class FallbackServed:
    """A `forecasts` run served the labelled fallback (weekly profile) for some series: how
    many, why (reason kind → series), and which (a few named)."""

    asset: str
    partition: str | None
    series: int
    reasons: Mapping[str, int]
    named: Mapping[str, str]
    link: str | None = None

    def alert(self) -> Alert:
        why = ", ".join(f"{kind}: {n}" for kind, n in sorted(self.reasons.items()))
        shown = "; ".join(f"{name} ({reason})" for name, reason in list(self.named.items())[:5])
        return Alert(
            kind="fallback_served",
            status="notice",
            title=(
                f"{ALERT_KINDS['fallback_served']}: {self.series} series on {self.asset}"
                f"{_on(self.partition)}"
            ),
            details=(("fallback series", str(self.series)), ("reasons", why), ("series", shown)),
            link=self.link,
            incident_key=f"fallback:{self.asset}:{self.partition}",
            severity="warning",
        )


def _score(value: float | None) -> str:
    return "none" if value is None else f"{value:.4f}"
