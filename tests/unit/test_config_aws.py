from __future__ import annotations

from pathlib import Path

import pytest

from pryv_server.config import load_settings
from pryv_server.errors import ConfigError


def test_aws_section_defaults(tmp_path: Path) -> None:
    path = tmp_path / "pryv.ini"
    path.write_text("[core]\nindex-ttl = 2\n")
    settings = load_settings(str(path))
    assert settings.aws_endpoint_url is None
    assert settings.aws_region is None
    assert settings.aws_conditional_writes is True
    assert settings.aws_download == "stream"
    assert settings.aws_presign_expiry == 300


def test_aws_section_options(tmp_path: Path) -> None:
    path = tmp_path / "pryv.ini"
    path.write_text(
        "[aws]\nendpoint-url = http://minio:9000\nregion = eu-west-3\n"
        "conditional-writes = false\ndownload = Redirect\npresign-expiry = 60\n"
    )
    settings = load_settings(str(path))
    assert (settings.aws_endpoint_url, settings.aws_region) == ("http://minio:9000", "eu-west-3")
    assert settings.aws_conditional_writes is False
    assert (settings.aws_download, settings.aws_presign_expiry) == ("redirect", 60)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[aws]\ndownload = proxy\n", "[aws] download: 'proxy' is not a download mode"),
        ("[aws]\npresign-expiry = 0\n", "[aws] presign-expiry"),
        ("[aws]\nconditional-writes = sometimes\n", "[aws] conditional-writes"),
        ("[aws]\nbucket = x\n", "[aws] has an unknown option 'bucket'"),
        (
            "[amazon]\nregion = x\n",
            "(known: core, user, server, permissions, aws, upstream, webhooks, metrics, provenance, lifecycle)",
        ),
    ],
)
def test_aws_section_errors_name_the_option(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "pryv.ini"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(str(path))
    assert message in str(caught.value)
