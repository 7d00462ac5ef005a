"""``pryv prune``: apply the ``[lifecycle] retention`` rules through the one deletion path.

A rule names projects by a shell-style pattern of their normalized name; the first rule that
matches a project applies to it (:class:`~pryv_server.config.RetentionRule`):

* ``keep-dev=N`` keeps the newest N development releases (``1.0.dev3``) and marks older ones;
* ``keep-pre=N`` keeps the newest N other pre-releases (``2.0rc1``, ``2.0b2``);
* ``max-age=D`` marks releases whose last upload is older than D days.

Whatever a rule says, two releases of a project are never pruned: its newest release, and its
latest final release (the highest version that is not a pre- or development release, yanked or
not). Pruned releases are deleted as ``pryv delete`` deletes them (tombstones: their filenames
can never come back), with the rule as the reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from fnmatch import fnmatchcase

from pryv_server.config_values import RetentionRule
from pryv_server.core.lifecycle import Lifecycle
from pryv_server.core.models import Project
from pryv_server.core.models import Release


@dataclass(frozen=True, slots=True)
class Doomed:
    """A release a retention rule removes, and why."""

    project: Project
    release: Release
    why: str


def rule_for(project: Project, rules: Iterable[RetentionRule]) -> RetentionRule | None:
    """Return the first rule whose pattern matches the project's normalized name."""
    return next((rule for rule in rules if fnmatchcase(project.normalized, rule.pattern)), None)


def protected(project: Project) -> list[Release]:
    """Return the releases no rule ever prunes: the newest, and the latest final."""
    kept = [project.releases[-1]]
    finals = [release for release in project.releases if not release.version.is_prerelease]
    return kept + finals[-1:]


def plan(
    projects: Iterable[Project], rules: tuple[RetentionRule, ...], now: datetime
) -> list[Doomed]:
    """Return what the rules remove, project by project, oldest release first."""
    doomed: list[Doomed] = []
    for project in projects:
        rule = rule_for(project, rules)
        if rule is not None:
            doomed += _plan_project(project, rule, now)
    return doomed


def _plan_project(project: Project, rule: RetentionRule, now: datetime) -> list[Doomed]:
    spared = {str(release.version) for release in protected(project)}
    why: dict[str, str] = {}  # version -> reason
    dev = [r for r in project.releases if r.version.is_devrelease]
    pre = [r for r in project.releases if r.version.is_prerelease and not r.version.is_devrelease]
    for releases, keep, name in (
        (dev, rule.keep_dev, "keep-dev"),
        (pre, rule.keep_pre, "keep-pre"),
    ):
        if keep is not None:
            for release in releases[: max(len(releases) - keep, 0)]:
                why.setdefault(str(release.version), f"retention {rule.pattern} {name}={keep}")
    if rule.max_age_days is not None:
        cutoff = now - timedelta(days=rule.max_age_days)
        for release in project.releases:
            if _parse(release.last_upload_time) < cutoff:
                reason = f"retention {rule.pattern} max-age={rule.max_age_days:g}d"
                why.setdefault(str(release.version), reason)
    return [
        Doomed(project, release, why[str(release.version)])
        for release in project.releases
        if str(release.version) in why and str(release.version) not in spared
    ]


def prune(lifecycle: Lifecycle, doomed: Iterable[Doomed], user: str = "prune") -> None:
    """Delete each planned release through the deletion path (tombstones first)."""
    for item in doomed:
        lifecycle.delete_packages(item.release.packages, reason=item.why, user=user)


def _parse(timestamp: str) -> datetime:
    moment = datetime.fromisoformat(timestamp)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
