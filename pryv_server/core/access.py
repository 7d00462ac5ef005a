"""Who may do what: identity x action x project -> allowed, or a one-line reason. No I/O.

The model (docs/permissions.md says it for users):

* **global roles** per user, from the permissions file: ``admin`` (everything), ``member`` (read
  everything, upload per the policy), ``reader`` (read only); groups hold grants like users;
* **project roles**, records in storage: ``owner`` (upload, yank, name other owners and
  maintainers) and ``maintainer`` (upload, yank). With ``uploads = owners`` the first uploader of
  a new project becomes its owner and only its owners, maintainers and admins may upload to it or
  yank in it; with ``open`` (the default) every member may;
* **namespaces** (PEP 752): a reserved name prefix; creating a project under it without a grant
  is a conflict (409), as the PEP says;
* **read restrictions**: a project or pattern readable only by named users or groups; others get
  403 and do not see it listed;
* **API tokens** act for their user and never beyond it, capped to a role (read, upload,
  maintain) and optionally to projects;
* **anonymous** readers, when ``anonymous-read`` allows them, read what is not restricted.

Without a permissions file every user is a member and uploads are open: exactly the behaviour
before permissions existed. :class:`Access` keeps each decision (per identity, action, project)
until the policy or the project roles change, so a request pays a dict lookup.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from enum import Enum
from fnmatch import fnmatchcase

from packaging.utils import NormalizedName

from pryv_server.auth.identity import Identity

ROLES = ("admin", "member", "reader")
PROJECT_ROLES = ("owner", "maintainer")
UPLOAD_POLICIES = ("open", "owners")
GROUP_MARK = "@"  # a grant to "@ci" is a grant to every member of the group "ci"
# Decisions kept before the table is cleared (identities x projects a process sees at once).
MAX_DECISIONS = 100_000


class Action(Enum):
    """What a request wants to do to a project."""

    READ = "read"
    UPLOAD = "upload"
    YANK = "yank"
    MANAGE = "manage"  # name the project's owners and maintainers


# What each API token role allows at most.
TOKEN_ACTIONS = {
    "read": frozenset({Action.READ}),
    "upload": frozenset({Action.READ, Action.UPLOAD}),
    "maintain": frozenset({Action.READ, Action.UPLOAD, Action.YANK}),
}


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer: allowed, or why not and how (401, 403, or 409 for a reserved namespace)."""

    allowed: bool
    reason: str = ""
    status: int = 200


ALLOWED = Decision(True)
NOTHING: frozenset[str] = frozenset()


def _denied(reason: str, status: int = 403) -> Decision:
    return Decision(False, reason, status)


@dataclass(frozen=True, slots=True)
class Policy:
    """The permissions file, parsed, and the ``[permissions]`` options.

    ``configured`` is false when there is no permissions file: everyone is a member.
    """

    configured: bool = False
    roles: Mapping[str, str] = field(default_factory=dict)
    default_role: str = "member"
    groups: Mapping[str, frozenset[str]] = field(default_factory=dict)
    namespaces: tuple[tuple[str, frozenset[str]], ...] = ()
    restrictions: tuple[tuple[str, frozenset[str]], ...] = ()
    anonymous_read: bool = False
    uploads: str = "open"

    def role(self, user: str) -> str:
        """Return the global role of ``user`` (admin, member or reader)."""
        return self.roles.get(user, self.default_role)

    def holds(self, user: str, grantees: Iterable[str]) -> bool:
        """Say whether ``user`` is one of ``grantees`` (user names and ``@group`` names)."""
        for grantee in grantees:
            if grantee == user:
                return True
            if grantee.startswith(GROUP_MARK) and user in self.groups.get(grantee[1:], ()):
                return True
        return False

    def namespace_of(self, project: str) -> tuple[str, frozenset[str]] | None:
        """Return the reserved prefix ``project`` falls under, with who holds it."""
        for prefix, holders in self.namespaces:
            if project.startswith(prefix):
                return prefix, holders
        return None

    def readers_of(self, project: str) -> frozenset[str] | None:
        """Return who may read a restricted project (None: it is not restricted)."""
        readers: set[str] | None = None
        for pattern, names in self.restrictions:
            if fnmatchcase(project, pattern):
                readers = (readers or set()) | names
        return None if readers is None else frozenset(readers)


# project -> grantee -> project role
ProjectRoles = Mapping[str, Mapping[str, str]]


def decide(
    policy: Policy,
    project_roles: ProjectRoles,
    identity: Identity,
    action: Action,
    project: NormalizedName,
    exists: bool,
) -> Decision:
    """Decide whether ``identity`` may do ``action`` to ``project`` (``exists``: it has files)."""
    token = identity.token
    if token is not None:
        if action not in TOKEN_ACTIONS.get(token.role, frozenset()):
            return _denied(f"this API token may only {token.role}; it cannot {action.value}")
        if token.projects and not any(fnmatchcase(project, p) for p in token.projects):
            return _denied(f"this API token is limited to {', '.join(token.projects)}")
    if identity.anonymous:
        return _anonymous(policy, action, project)
    user = identity.name
    if policy.role(user) == "admin":
        return ALLOWED
    roles = project_roles.get(project, {})
    project_role = next((r for g, r in roles.items() if policy.holds(user, (g,))), None)
    if action is Action.READ:
        readers = policy.readers_of(project)
        if readers is None or project_role or policy.holds(user, readers):
            return ALLOWED
        return _denied(f"{project!r} is restricted; ask an admin for read access")
    if policy.role(user) == "reader":
        return _denied(f"{user!r} may only read (role reader)")
    if action is Action.MANAGE:
        if project_role == "owner":
            return ALLOWED
        return _denied(f"only an owner or an admin may manage {project!r}")
    return _write(policy, roles, user, project_role, action, project, exists)


def _anonymous(policy: Policy, action: Action, project: str) -> Decision:
    if action is not Action.READ or not policy.anonymous_read:
        return _denied("authentication required: send a user name and password", 401)
    if policy.readers_of(project) is not None:
        return _denied("authentication required: this project is restricted", 401)
    return ALLOWED


def _write(
    policy: Policy,
    roles: Mapping[str, str],
    user: str,
    project_role: str | None,
    action: Action,
    project: NormalizedName,
    exists: bool,
) -> Decision:
    """Upload or yank by a member: namespaces first, then the upload policy and project roles."""
    if project_role is not None:
        return ALLOWED
    namespace = policy.namespace_of(project)
    if namespace is not None and not policy.holds(user, namespace[1]):
        if not exists and action is Action.UPLOAD:
            return _denied(
                f"the name prefix {namespace[0]!r} is reserved (PEP 752); ask an admin for a "
                "grant or pick another name",
                409,
            )
        return _denied(f"{project!r} is in the reserved namespace {namespace[0]!r}")
    if policy.uploads == "open" or not exists or not roles:
        return ALLOWED  # open uploads, a new project (its first uploader), or no owner named yet
    return _denied(f"only the owners and maintainers of {project!r} may {action.value} there")


def may_shadow(policy: Policy, identity: Identity, project: str) -> bool:
    """Say whether ``identity`` may upload ``project``, a name served from the upstream index.

    From then on the upload replaces the public project for everyone who installs it through
    pryv, so only an admin or a holder of the name's namespace may (issue: the upstream proxy).
    Without a permissions file every user is trusted alike, as for every other write; the
    upload is still answered with a warning and logged.
    """
    if not policy.configured or policy.role(identity.name) == "admin":
        return True
    namespace = policy.namespace_of(project)
    return namespace is not None and policy.holds(identity.name, namespace[1])


class Access:
    """The policy and the project roles of one registry, with every decision kept.

    :param policy: returns the current policy (the permissions file, reloaded when it changes).
    :param project_roles: returns the current project roles (records kept in memory).
    """

    def __init__(
        self,
        policy: Callable[[], Policy],
        project_roles: Callable[[], ProjectRoles] = dict,
    ) -> None:
        self._policy = policy
        self._project_roles = project_roles
        self._lock = threading.Lock()
        self._state: tuple[Policy, ProjectRoles] | None = None
        self._decisions: dict[tuple[Identity, Action, str, bool], Decision] = {}
        self._visible: dict[tuple[Identity, object], frozenset[str]] = {}

    def policy(self) -> Policy:
        """Return the current policy."""
        return self._policy()

    def decide(
        self, identity: Identity, action: Action, project: NormalizedName, exists: bool
    ) -> Decision:
        """Return the decision, computed once per state of the policy and project roles."""
        decisions = self._current()
        key = (identity, action, project, exists)
        found = decisions.get(key)
        if found is None:
            policy, roles = self._state  # type: ignore[misc]
            found = decide(policy, roles, identity, action, project, exists)
            if len(decisions) >= MAX_DECISIONS:
                decisions.clear()
            decisions[key] = found
        return found

    def hidden(
        self, identity: Identity, projects: Iterable[NormalizedName], generation: object
    ) -> frozenset[str]:
        """Return the projects of a listing ``identity`` may not read, once per generation.

        Listing ``/simple/`` asks this once per identity and snapshot generation: with read
        restrictions on a tenth of 1,000 projects the page then costs a set lookup per project.
        """
        policy = self._current_policy()
        token = identity.token
        if not policy.restrictions and (token is None or not token.projects):
            return NOTHING  # nobody is refused a read: the common case costs nothing
        key = (identity, generation)
        found = self._visible.get(key)
        if found is None:
            found = frozenset(
                name
                for name in projects
                if not self.decide(identity, Action.READ, name, True).allowed
            )
            if len(self._visible) >= MAX_DECISIONS // 100:
                self._visible.clear()
            self._visible[key] = found
        return found

    def _current_policy(self) -> Policy:
        self._current()
        return self._state[0]  # type: ignore[index]

    def _current(self) -> dict[tuple[Identity, Action, str, bool], Decision]:
        state = (self._policy(), self._project_roles())
        current = self._state
        if current is None or current[0] is not state[0] or current[1] is not state[1]:
            with self._lock:
                self._state = state
                self._decisions = {}
                self._visible = {}
        return self._decisions
