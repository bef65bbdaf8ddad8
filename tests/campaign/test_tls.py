"""Campaigns on a TLS-secured cluster, and TLS settings that are missing or wrong.

The certificates are made here with the system's ``openssl``: a CA and one
certificate it signed, which the scheduler, the workers and the client all use.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import dask
import pandas as pd
import pytest

from highfive.generators import ConfigError
from highfive.harness._cluster import executor
from highfive.harness._config import CampaignConfig
from highfive.harness.cli import main

from .._helpers import load_module

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
_NO_DASK_TLS = {
    "distributed.comm.tls.ca-file": None,
    "distributed.comm.tls.client.cert": None,
    "distributed.comm.tls.client.key": None,
}


# test_cluster.py, whose loopback cluster and helpers these tests share.
ct = load_module(Path(__file__).with_name("test_cluster.py"), "highfive_tests_cluster", shared=True)


@pytest.fixture(autouse=True)
def _no_tls_in_dask_config() -> Iterator[None]:
    """Whatever this machine's dask configuration says, the tests say it here."""
    with dask.config.set(_NO_DASK_TLS):
        yield


@pytest.fixture
def certs(tmp_path: Path) -> Path:
    """certs/ca.pem, and certs/cert.pem with its key certs/key.pem, signed by the CA."""
    if not Path(OPENSSL).exists():
        pytest.skip("needs openssl to make certificates")
    folder = tmp_path / "certs"
    folder.mkdir()
    ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2"
    (folder / "ext.cnf").write_text(
        "subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth, clientAuth\n"
    )
    for command in (
        f"req -x509 {ec} -keyout ca-key.pem -out ca.pem -subj /CN=highfive-test-CA",
        f"req {ec} -keyout key.pem -out cert.csr -subj /CN=highfive-test",
        "x509 -req -in cert.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 "
        "-extfile ext.cnf -out cert.pem",
    ):
        subprocess.run([OPENSSL, *command.split()], cwd=folder, check=True, capture_output=True)
    return folder


def _with_execution(path: Path, lines: str) -> Path:
    """The campaign file with more lines in its [execution] table (its last table)."""
    path.write_text(path.read_text() + lines)
    return path


def _cli_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err[len("error: ") : -1]


def test_a_tls_scheduler_without_tls_settings_is_one_line(
    campaign_file: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = campaign_file()
    err = _cli_error(["run", str(path), "--scheduler", "tls://127.0.0.1:8786"], capsys)
    assert err.startswith(
        "execution.scheduler: 'tls://127.0.0.1:8786' needs TLS settings, missing "
        "tls_ca_file and tls_cert; give them"
    )
    assert "campaign file's [execution] table" in err
    assert "distributed.comm.tls.ca-file, distributed.comm.tls.client.cert" in err
    assert not (tmp_path / "runs").exists()


def test_tls_settings_partly_from_dask_config_name_what_is_missing(tmp_path: Path) -> None:
    cfg = CampaignConfig.from_dict(
        {"execution": {"scheduler": "tls://127.0.0.1:8786"}}, base=tmp_path
    )
    (tmp_path / "ca.pem").write_text("not a certificate\n")
    dask_ca = {"distributed.comm.tls.ca-file": str(tmp_path / "ca.pem")}
    with (
        dask.config.set(dask_ca),
        pytest.raises(ConfigError, match="missing tls_cert; give them"),
        executor(cfg),
    ):
        pass


BAD_FILES = [
    (
        "missing-ca",
        'tls_ca_file = "nowhere/ca.pem"\ntls_cert = "certs/cert.pem"\n',
        "execution.tls_ca_file: 'nowhere/ca.pem' is not a file ({base}/nowhere/ca.pem; "
        "a relative path resolves against the campaign file's folder)",
    ),
    (
        "missing-key",
        'tls_ca_file = "certs/ca.pem"\ntls_cert = "certs/cert.pem"\ntls_key = "k.pem"\n',
        "execution.tls_key: 'k.pem' is not a file ({base}/k.pem; ",
    ),
    (
        "ca-not-pem",
        'tls_ca_file = "certs/ext.cnf"\ntls_cert = "certs/cert.pem"\n',
        "execution.tls_ca_file: '{base}/certs/ext.cnf' holds no PEM CA certificate (",
    ),
    (
        "no-key",
        'tls_ca_file = "certs/ca.pem"\ntls_cert = "certs/cert.pem"\n',
        "execution.tls_cert: '{base}/certs/cert.pem' is not a PEM certificate followed by "
        "its private key (",
    ),
    (
        "wrong-key",
        'tls_ca_file = "certs/ca.pem"\ntls_cert = "certs/cert.pem"\ntls_key = "certs/ca-key.pem"\n',
        "execution.tls_cert: '{base}/certs/cert.pem' with execution.tls_key "
        "'{base}/certs/ca-key.pem' is not a PEM certificate and its private key (",
    ),
]


@pytest.mark.parametrize("lines, match", [b[1:] for b in BAD_FILES], ids=[b[0] for b in BAD_FILES])
def test_bad_tls_files_are_one_line_before_connecting(
    lines: str,
    match: str,
    certs: Path,
    campaign_file: Callable[..., Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = _with_execution(campaign_file(), 'scheduler = "tls://127.0.0.1:8786"\n' + lines)
    err = _cli_error(["run", str(path)], capsys)
    assert err.startswith(match.format(base=tmp_path)), err
    assert not (tmp_path / "runs").exists()


def test_a_missing_file_in_dask_config_is_named(tmp_path: Path) -> None:
    cfg = CampaignConfig.from_dict(
        {"execution": {"scheduler": "tls://127.0.0.1:8786"}}, base=tmp_path
    )
    ca = str(tmp_path / "gone.pem")
    with (
        dask.config.set({"distributed.comm.tls.ca-file": ca}),
        pytest.raises(ConfigError) as err,
        executor(cfg),
    ):
        pass
    assert str(err.value) == (
        f"distributed.comm.tls.ca-file: {ca!r} (in dask's configuration) is not a file"
    )


@pytest.fixture
def tls_cluster(certs: Path) -> Iterator[str]:
    """A TLS loopback scheduler with two workers; the certificates are in ``certs``."""
    from distributed import Security

    files = [str(certs / name) for name in ("ca.pem", "cert.pem", "key.pem")]
    loop = ct.Loopback(
        certs.parent,
        tls=["--tls-ca-file", files[0], "--tls-cert", files[1], "--tls-key", files[2]],
        security=Security(
            tls_ca_file=files[0],
            tls_client_cert=files[1],
            tls_client_key=files[2],
            require_encryption=True,
        ),
    )
    try:
        loop.start_workers(2)
        yield loop.address
    finally:
        loop.close()


@pytest.mark.slow
@pytest.mark.dask
def test_a_campaign_on_a_tls_cluster(
    tls_cluster: str, certs: Path, campaign_file: Callable[..., Path]
) -> None:
    assert tls_cluster.startswith("tls://127.0.0.1:")
    # From the campaign file, relative to its folder:
    path = _with_execution(
        campaign_file(cases=64, batch_size=8),
        f'scheduler = "{tls_cluster}"\ntls_ca_file = "certs/ca.pem"\n'
        'tls_cert = "certs/cert.pem"\ntls_key = "certs/key.pem"\n',
    )
    cfg = CampaignConfig.from_toml(path)
    summary = ct.run_campaign(cfg.with_overrides(name="tls-file"), stream=None)
    assert summary.complete and summary.cases == 64
    expected = ct.reference(cfg)
    pd.testing.assert_frame_equal(ct.frame(summary.run_dir), expected)
    # From dask's own configuration:
    bare = cfg.with_overrides(name="tls-dask", tls_ca_file="", tls_cert="", tls_key="")
    with dask.config.set(
        {
            "distributed.comm.tls.ca-file": str(certs / "ca.pem"),
            "distributed.comm.tls.client.cert": str(certs / "cert.pem"),
            "distributed.comm.tls.client.key": str(certs / "key.pem"),
        }
    ):
        summary = ct.run_campaign(bare, stream=None)
    assert summary.complete
    pd.testing.assert_frame_equal(ct.frame(summary.run_dir), expected)
