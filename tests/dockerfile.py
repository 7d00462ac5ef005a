"""Parse the repository's Dockerfile into stages and instructions, for the lint and replay tests.

Docker cannot run on our machines, so the tests read the Dockerfile the way the builder does
(continuation lines joined, comments dropped, JSON exec form decoded) and check or replay it.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

DOCKERFILE = Path(__file__).resolve().parent.parent / "Dockerfile"


@dataclass
class Instruction:
    """One instruction: its keyword (upper case) and its raw argument text."""

    keyword: str
    text: str
    line: int

    def exec_form(self) -> list[str] | None:
        """Return the JSON exec-form argument list, or None for shell form."""
        text = self.text
        if self.keyword == "HEALTHCHECK":
            text = text.split("CMD", 1)[1] if "CMD" in text else ""
        text = text.strip()
        if not text.startswith("["):
            return None
        value = json.loads(text)
        assert isinstance(value, list)
        return [str(item) for item in value]


@dataclass
class Stage:
    """A FROM and what follows it."""

    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        """Every instruction with this keyword, in order."""
        return [item for item in self.instructions if item.keyword == keyword]

    def env(self) -> dict[str, str]:
        """The ENV values this stage sets (``KEY=value`` pairs)."""
        values: dict[str, str] = {}
        for item in self.all("ENV"):
            for pair in shlex.split(item.text):
                key, _, value = pair.partition("=")
                values[key] = value
        return values


def parse(path: Path = DOCKERFILE) -> list[Stage]:
    """Return the stages of a Dockerfile."""
    stages: list[Stage] = []
    pending = ""
    start = 0
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, text = full.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = text.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(parts[0], name))
        elif stages:
            stages[-1].instructions.append(Instruction(keyword, text.strip(), start))
    return stages
