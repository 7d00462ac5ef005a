"""Read the shell commands that the documentation shows, so tests can run or check each one.

Commands live in fenced code blocks of ``docs/*.md``:

* ```` ```console ```` blocks: lines starting with ``$ `` are commands, other lines are output;
* ```` ```bash ````, ```` ```sh ```` and ```` ```shell ```` blocks: every line that is not a comment.

A line ending in ``\\`` continues on the next one. Each block belongs to the nearest heading above
it, so a test asks for "the commands under *Uploading with poetry* in packages.md" with
:func:`docs_block` and runs them; ``tests/unit/test_docs.py`` fails for any command that
no test claims that way and that it cannot check itself.

Docs use placeholders that tests substitute: the server ``https://pryv.example.com``, the user
``alice`` with the password ``wonderland``, and the project ``myproject``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"
SHELL_LANGUAGES = {"console", "bash", "sh", "shell", "shell-session"}
PLACEHOLDER_URL = "https://pryv.example.com"
PLACEHOLDER_USER = "alice"
PLACEHOLDER_PASSWORD = "wonderland"

_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*\{?(?P<lang>[\w-]*)\}?")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


@dataclass(frozen=True)
class Command:
    """One shell command shown in the docs, with where it is shown."""

    page: str
    heading: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.page}:{self.line} [{self.heading}] {self.text}"


def _blocks(path: Path) -> Iterator[tuple[str, str, int, list[str]]]:
    """Yield (heading, language, first line number, lines) for every fenced block of a page."""
    heading = ""
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        fence = _FENCE.match(line)
        if fence:
            marker = fence.group("fence")
            body: list[str] = []
            start = index + 1
            index += 1
            while index < len(lines) and not lines[index].strip().startswith(marker):
                body.append(lines[index])
                index += 1
            yield heading, fence.group("lang").lower(), start + 1, body
        elif match := _HEADING.match(line):
            heading = match.group(2)
        index += 1


def _commands_in(language: str, body: list[str]) -> Iterator[tuple[int, str]]:
    pending: list[str] = []
    pending_line = 0
    for offset, raw in enumerate(body):
        line = raw.rstrip()
        if not pending:
            if language == "console":
                if not line.startswith("$ "):
                    continue
                line = line[2:]
            elif not line.strip() or line.lstrip().startswith("#"):
                continue
            pending_line = offset
        if line.endswith("\\"):
            pending.append(line[:-1].strip())
            continue
        pending.append(line.strip())
        yield pending_line, " ".join(part for part in pending if part)
        pending = []


def page_commands(page: str | Path) -> list[Command]:
    """Return every command shown on one docs page, in order."""
    path = DOCS / page if not isinstance(page, Path) else page
    found = []
    for heading, language, first, body in _blocks(path):
        if language not in SHELL_LANGUAGES:
            continue
        for offset, text in _commands_in(language, body):
            found.append(Command(path.name, heading, first + offset, text))
    return found


def all_commands() -> list[Command]:
    """Return every command of every page under docs/."""
    return [command for page in sorted(DOCS.glob("*.md")) for command in page_commands(page)]


def is_synopsis(text: str) -> bool:
    """Tell a usage synopsis (``pryv yank PROJECT VERSION [--undo]``) from a runnable command.

    A synopsis is a ``pryv`` command with an optional ``[-…]`` group or an upper-case placeholder
    (a word such as ``PROJECT``, not a ``VAR=value`` assignment). Nothing runs a synopsis;
    ``tests/unit/test_docs.py`` checks its subcommand, arguments and options against the CLI.
    """
    words = text.split()
    if not words or words[0] != "pryv":
        return False
    return any(
        word.startswith("[-") or re.fullmatch(r"\[?[A-Z][A-Z0-9_]*\]*", word) for word in words
    )


def docs_block(page: str, heading: str) -> list[str]:
    """Return the commands shown under ``heading`` on ``page`` (a test that runs them claims them).

    Usage synopses are left out: they are not commands to run (see :func:`is_synopsis`). Fails
    loudly when the heading shows no command, so a renamed section cannot silently turn a test
    into one that runs nothing.
    """
    commands = [
        command.text
        for command in page_commands(page)
        if command.heading == heading and not is_synopsis(command.text)
    ]
    if not commands:
        raise LookupError(f"docs/{page} shows no command under the heading {heading!r}")
    return commands


def docs_outputs(page: str, heading: str) -> list[tuple[str, str]]:
    """Return ``(command, output)`` for each command of the console blocks under ``heading``.

    The output is the block's lines after the ``$ `` line up to the next one, so a test can
    compare what a command printed with what the docs say it prints. Synopses are left out, as in
    :func:`docs_block`; commands must fit on one line.
    """
    found: list[tuple[str, str]] = []
    for block_heading, language, _, body in _blocks(DOCS / page):
        if block_heading != heading or language != "console":
            continue
        for line in body:
            if line.startswith("$ "):
                assert not line.endswith("\\"), f"docs/{page}: {line!r} continues"
                found.append((line[2:].strip(), ""))
            elif found:
                command, output = found[-1]
                found[-1] = (command, output + line + "\n")
    found = [(command, output) for command, output in found if not is_synopsis(command)]
    if not found:
        raise LookupError(f"docs/{page} shows no console command under the heading {heading!r}")
    return found


def docs_file(page: str, heading: str, language: str) -> str:
    """Return the first ``language`` code block under ``heading`` (a config file the docs show)."""
    for block_heading, block_language, _, body in _blocks(DOCS / page):
        if block_heading == heading and block_language == language:
            return "\n".join(body) + "\n"
    raise LookupError(f"docs/{page} shows no {language} block under the heading {heading!r}")


def substitute(text: str, url: str) -> str:
    """Point a docs command at a test server: ``https://[user[:pw]@]pryv.example.com`` -> ``url``.

    The test server must have the docs' user (``alice``, password ``wonderland``).
    """
    scheme, host = url.split("://", 1)
    text = re.sub(r"https://([^\s/@]*@)?pryv\.example\.com", rf"{scheme}://\g<1>{host}", text)
    return text.replace("pryv.example.com", host)
