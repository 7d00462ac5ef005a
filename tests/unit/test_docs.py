"""The docs stay true: every option is documented with its default, every command is tested.

A shell command shown in ``docs/*.md`` is covered when an e2e test module runs its block (the
module lists it in ``DOCS_BLOCKS`` and reads it with ``docs_block``), or when this module can
check it: ``pryv`` commands must parse with the real CLI (subcommand and option names exist),
usage synopses (``pryv yank PROJECT VERSION [--undo]``) must name the real arguments and options,
``tox -e`` envs must exist, ``pip install -e ".[extras]"`` extras must exist. A command of an
outside tool that cannot run here is accepted only from the short ``EXTERNAL`` list, each with its
reason. Any other command fails the test: show it only with a test that runs it.
"""

from __future__ import annotations

import configparser
import importlib
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import click
import pytest

from pryv_server import cli
from pryv_server.config import OPTIONS
from pryv_server.config import Settings
from pryv_server.config import read_ini
from tests.corpus import pin
from tests.docs_commands import DOCS
from tests.docs_commands import Command
from tests.docs_commands import all_commands
from tests.docs_commands import docs_block
from tests.docs_commands import docs_file
from tests.docs_commands import is_synopsis
from tests.docs_commands import page_commands

ROOT = DOCS.parent
CONFIGURATION = (DOCS / "configuration.md").read_text()


# --- Configuration page ---------------------------------------------------------------------


def _section(text: str, section: str) -> str:
    start = text.index(f"## [{section}]")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


@pytest.mark.parametrize("option", OPTIONS, ids=lambda option: f"{option.section}.{option.name}")
def test_every_option_is_documented_with_its_default(option: Any) -> None:
    section = _section(CONFIGURATION, option.section)
    match = re.search(
        rf"^`{re.escape(option.name)}`\n(?P<body>(?::.*\n|  .*\n)+)",
        section,
        re.MULTILINE,
    )
    assert match, f"[{option.section}] {option.name} is not described in docs/configuration.md"
    default = option.default
    body = " ".join(match.group("body").split())
    expected = f"Default: `{default}`" if default is not None else "Default: none"
    assert expected in body, f"{option.name}: the docs must say {expected!r}"


def test_configuration_example_file_is_exactly_the_defaults() -> None:
    example = docs_file("configuration.md", "The file", "ini")
    assert Settings.from_mapping(read_ini(example, "docs"), source="docs") == Settings.from_mapping(
        {}, source="docs"
    )
    commented = {line.lstrip("; ").split(" =")[0] for line in example.splitlines() if "=" in line}
    assert commented == {option.name for option in OPTIONS}


def pryv_ini_blocks() -> list[tuple[str, str]]:
    """Every ini block of the docs that is a pryv.ini (its sections are pryv's), with its page."""
    sections = {option.section for option in OPTIONS}
    found = []
    for page in sorted(DOCS.glob("*.md")):
        for block in re.findall(r"^```ini\n(.*?)^```", page.read_text(), re.MULTILINE | re.DOTALL):
            names = set(re.findall(r"^\[([^\]]+)\]", block, re.MULTILINE))
            if names and names <= sections:
                found.append((page.name, block))
    return found


@pytest.mark.parametrize(
    ("page", "block"),
    [
        pytest.param(page, block, id=f"{page}-{n}")
        for n, (page, block) in enumerate(pryv_ini_blocks())
    ],
)
def test_every_pryv_ini_the_docs_show_is_valid(page: str, block: str) -> None:
    values = read_ini(block, page)
    Settings.from_mapping(values, source=page)
    for section, options in values.items():
        for name, value in options.items():
            # configparser keeps an inline comment as part of the value.
            assert not re.search(r"\s[;#]", value), f"{page}: [{section}] {name} = {value!r}"


def test_the_docs_show_pryv_ini_files() -> None:
    assert {page for page, _ in pryv_ini_blocks()} >= {"configuration.md", "storage-s3.md"}


# --- Commands --------------------------------------------------------------------------------


def claimed_blocks() -> set[tuple[str, str]]:
    """The (page, heading) blocks that some e2e module runs."""
    claimed: set[tuple[str, str]] = set()
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        if "\nDOCS_BLOCKS = " not in path.read_text():
            continue
        module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
        for page, heading in module.DOCS_BLOCKS:
            assert docs_block(page, heading), f"{path.name} claims an empty block"
            claimed.add((page, heading))
    return claimed


def _words(text: str) -> list[str]:
    """Split a command, dropping leading VAR=value assignments and `< file` redirects."""
    words = shlex.split(text)
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):
        words.pop(0)
    cleaned: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word in {"<", ">", "2>"}:
            skip = True
        else:
            cleaned.append(word)
    return cleaned


def check_pryv(args: list[str]) -> None:
    """Resolve the subcommand chain and parse the options with the real click CLI."""
    command: click.Command = cli.main
    context = command.make_context("pryv", list(args), resilient_parsing=False)
    remaining = [*context._protected_args, *context.args]
    while isinstance(command, click.Group):
        name, found, remaining = command.resolve_command(context, remaining)
        assert found is not None, f"pryv has no command {name!r}"
        command = found
        context = command.make_context(name or "", list(remaining), parent=context)
        remaining = [*context._protected_args, *context.args]
    assert not remaining, f"unexpected arguments {remaining}"


def check_pryv_synopsis(text: str) -> None:
    """Check a usage synopsis against the real click command, word by word.

    The subcommand must exist; the positional placeholders must be the command's arguments, in
    order and named as ``--help`` names them; every option must exist, take a value exactly when
    the synopsis gives it one (named as ``--help`` names it), and be in ``[…]`` exactly when it is
    optional. Literal values have no place in a synopsis.
    """
    tokens = text.replace("[", " [ ").replace("]", " ] ").split()
    assert tokens.pop(0) == "pryv"
    command: click.Command = cli.main
    while isinstance(command, click.Group):
        name = tokens.pop(0)
        found = command.commands.get(name)
        assert found is not None, f"pryv has no command {name!r}"
        command = found
    options = {
        opt: param
        for param in command.params
        if isinstance(param, click.Option)
        for opt in (*param.opts, *param.secondary_opts)
    }
    arguments = [param for param in command.params if isinstance(param, click.Argument)]
    shown: list[tuple[str, bool]] = []
    depth = 0
    while tokens:
        token = tokens.pop(0)
        if token in {"[", "]"}:
            depth += 1 if token == "[" else -1
            assert depth >= 0, f"unbalanced brackets in {text!r}"
        elif token.startswith("-"):
            option = options.get(token)
            assert option is not None, f"pryv {command.name} has no option {token!r}"
            assert option.required == (depth == 0), f"{token}: [...] must mean optional"
            if not option.is_flag:
                value = tokens.pop(0) if tokens else ""
                expected = option.metavar or option.type.name.upper()
                assert value == expected, f"{token} takes {expected}, not {value!r}"
        elif re.fullmatch(r"[A-Z][A-Z0-9_]*", token):
            shown.append((token, depth > 0))
        else:
            pytest.fail(f"{token!r} is neither an option nor a placeholder in {text!r}")
    assert depth == 0, f"unbalanced brackets in {text!r}"
    expected_arguments = [(param.human_readable_name, not param.required) for param in arguments]
    assert shown == expected_arguments, f"pryv {command.name} takes {expected_arguments}"


# Commands of other programs that the docs show as they are, but that no test can run here.
# Each entry is one exact command and why; everything else must be run or checked.
BENCHMARK = (
    "a benchmark, not a test: it runs for minutes to an hour, needs wrk, nginx and the shared "
    "harness, and its figures are measurements that no test may assert"
)
EXTERNAL = {
    (
        "storage-s3.md",
        "docker run -d --name minio -p 9000:9000 -e MINIO_ROOT_USER=pryv "
        "-e MINIO_ROOT_PASSWORD=pryv-secret-key quay.io/minio/minio server /data",
    ): "starts MinIO itself, not pryv: there is no Docker daemon or container registry here; "
    "the commands that follow it run against moto's S3 server (tests/e2e/test_s3.py)",
    **{
        ("performance.md", command): BENCHMARK
        for command in (
            'SIZES=100,1000,10000 PEERS="nginx pypiserver devpi:1000" PRYV=.venv/bin/pryv '
            "bash bench/run.sh",
            ".venv/bin/python -m bench.large_files",
            ".venv/bin/python -m bench.slow_upload",
            ".venv/bin/python -m bench.startup --sizes 1000,10000",
            ".venv/bin/python -m bench.startup --sizes 10000 --copies 10 --runs 1",
            "bash bench/warm_reads.sh /tmp/bench-run/pryv/p10000",
            "bash bench/http_servers.sh",
        )
    },
}


def check_tox(args: list[str]) -> None:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "tox.ini")
    envs = {section.removeprefix("testenv:") for section in parser.sections()}
    envs.update(e.strip() for e in parser["tox"]["env_list"].split(","))
    assert args[0] == "-e"
    for env in args[1].split(","):
        assert env in envs, f"tox.ini has no env {env!r}"


def check_pip_editable(args: list[str]) -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    (target,) = [arg for arg in args if arg.startswith(".")]
    match = re.fullmatch(r"\.\[(.*)\]", target)
    assert match, target
    for extra in match.group(1).split(","):
        assert extra in extras, f"pyproject.toml has no extra {extra!r}"


def check_pytest(args: list[str]) -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    markers = {marker.split(":")[0] for marker in config["markers"]}
    if "-m" in args:
        expression = args[args.index("-m") + 1]
        for name in re.findall(r"[a-z_][a-z0-9_]*", expression):
            assert name in markers | {"not", "and", "or"}, f"unknown marker {name!r}"
    if "-n" in args:
        assert any(d.startswith("pytest-xdist") for d in _test_extra())


def _test_extra() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return list(project["optional-dependencies"]["test"])


def check(command: Command) -> None:
    """Check a command that no e2e test runs, or fail: the docs show only tested commands."""
    if is_synopsis(command.text):
        check_pryv_synopsis(command.text)
        return
    if (command.page, command.text) in EXTERNAL:
        return
    words = _words(command.text)
    program = Path(words[0]).name
    if program == "pryv":
        check_pryv(words[1:])
    elif program == "tox":
        check_tox(words[1:])
    elif program in {"python3", "python"} and words[1:3] == ["-m", "venv"]:
        assert len(words) == 4
    elif program == "pip" and words[1:3] == ["install", "-e"]:
        check_pip_editable(words[1:])
    elif program == "pytest":
        check_pytest(words[1:])
    elif program in {"python3", "python"} and words[1:3] == ["-m", "tests.corpus.pin"]:
        # Re-pinning reaches PyPI and downloads the corpus: check that its options parse.
        pin.build_parser().parse_args(words[3:])
    else:
        pytest.fail(f"no test runs or checks the docs command {command}")


COMMANDS = all_commands()


def test_docs_show_commands_on_every_page_that_needs_them() -> None:
    pages = {command.page for command in COMMANDS}
    assert {"quickstart.md", "packages.md", "users.md", "deployment.md"} <= pages


@pytest.mark.parametrize("command", COMMANDS, ids=str)
def test_every_docs_command_is_run_or_checked(command: Command) -> None:
    if (command.page, command.heading) in CLAIMED and not is_synopsis(command.text):
        return
    check(command)


def test_every_external_command_is_still_shown() -> None:
    shown = {(command.page, command.text) for command in COMMANDS}
    assert set(EXTERNAL) <= shown, "remove EXTERNAL entries the docs no longer show"


CLAIMED = claimed_blocks()


def test_pryv_check_rejects_unknown_subcommands_and_options() -> None:
    with pytest.raises(click.UsageError):
        check_pryv(["strat"])
    with pytest.raises(click.NoSuchOption):
        check_pryv(["start", "--wokers", "4"])
    check_pryv(["user", "add", "alice", "--password-stdin"])


def test_synopsis_check_follows_the_real_cli() -> None:
    check_pryv_synopsis("pryv yank PROJECT VERSION [--file FILENAME] [--reason TEXT] [--undo]")
    check_pryv_synopsis("pryv backfill-metadata [-c PATH]")
    wrong = [
        "pryv yank PROJECT [--undo]",  # a missing argument
        "pryv yank PROJECT VERSION FILE",  # an extra one
        "pryv yank VERSION PROJECT",  # the wrong order
        "pryv yank PROJECT VERSION [--files FILENAME]",  # no such option
        "pryv yank PROJECT VERSION [--undo TEXT]",  # a flag takes no value
        "pryv yank PROJECT VERSION [--reason]",  # an option that takes one
        "pryv yank PROJECT VERSION --undo",  # optional, so in brackets
        "pryv yank PROJECT VERSION [--undo",  # unbalanced
        "pryv yank demo VERSION",  # a literal
        "pryv yonk PROJECT VERSION",  # no such command
    ]
    for synopsis in wrong:
        assert is_synopsis(synopsis)
        with pytest.raises((AssertionError, pytest.fail.Exception, IndexError)):
            check_pryv_synopsis(synopsis)


def test_only_listed_external_commands_pass() -> None:
    (page, text) = next(iter(EXTERNAL))
    check(Command(page, "Anywhere", 1, text))
    with pytest.raises(pytest.fail.Exception):
        check(Command(page, "Anywhere", 1, text.replace("minio server", "minio gateway")))
    with pytest.raises(pytest.fail.Exception):
        check(Command("deployment.md", "Anywhere", 1, text))


def test_an_untested_command_fails_the_check() -> None:
    with pytest.raises(pytest.fail.Exception):
        check(Command("x.md", "Somewhere", 1, "rm -rf /srv/pryv"))


def test_commands_are_read_from_console_and_bash_blocks(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n\n## One\n\n```console\n$ pryv start \\\n    --port 1\noutput line\n```\n\n"
        "## Two\n\n```bash\n# a comment\ntox -e docs\n```\n\n```ini\n[core]\n```\n"
    )
    commands = page_commands(page)
    assert [(c.heading, c.text) for c in commands] == [
        ("One", "pryv start --port 1"),
        ("Two", "tox -e docs"),
    ]


def test_deployment_nginx_config_streams_big_uploads() -> None:
    nginx = docs_file("deployment.md", "Behind nginx with TLS", "nginx")
    size = re.search(r"client_max_body_size (\d+)([kmg]);", nginx)
    assert size, "nginx must raise client_max_body_size (its default 1m refuses most wheels)"
    assert size.group(2) == "g"
    assert int(size.group(1)) >= 5  # at least the default max-upload-size of 5G
    for directive in (
        "proxy_request_buffering off;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "listen 443 ssl;",
    ):
        assert directive in nginx
