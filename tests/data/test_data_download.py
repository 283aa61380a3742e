"""The downloader: md5 check and atomic rename, against local file:// URLs and a refused port."""
import hashlib
import os

import pytest

from gluon_caps.data.download import download
from gluon_caps.errors import DataNotFoundError

CONTENT = b"some data file\n" * 100


@pytest.fixture
def mirror(tmp_path):
    folder = tmp_path / "mirror"
    folder.mkdir()
    (folder / "blob.gz").write_bytes(CONTENT)
    return folder.as_uri() + "/"


def test_download_checks_md5_and_renames(tmp_path, mirror):
    target = download("blob.gz", str(tmp_path / "out"), [mirror], hashlib.md5(CONTENT).hexdigest())
    assert target == str(tmp_path / "out" / "blob.gz")
    assert os.listdir(tmp_path / "out") == ["blob.gz"]
    with open(target, "rb") as stream:
        assert stream.read() == CONTENT


def test_md5_mismatch_leaves_nothing(tmp_path, mirror):
    with pytest.raises(DataNotFoundError, match="blob.gz: md5 [0-9a-f]{32}, expected 0{32}"):
        download("blob.gz", str(tmp_path / "out"), [mirror], "0" * 32)
    assert os.listdir(tmp_path / "out") == []


def test_falls_back_to_the_next_mirror(tmp_path, mirror, unreachable_url):
    md5 = hashlib.md5(CONTENT).hexdigest()
    target = download("blob.gz", str(tmp_path / "out"), [unreachable_url, mirror], md5)
    assert os.path.getsize(target) == len(CONTENT)


def test_all_mirrors_failing(tmp_path, unreachable_url, mirror):
    with pytest.raises(DataNotFoundError) as info:
        download("missing.gz", str(tmp_path / "out"), [unreachable_url, mirror], "0" * 32)
    message = str(info.value)
    assert unreachable_url + "missing.gz" in message and mirror + "missing.gz" in message
    assert os.listdir(tmp_path / "out") == []
