"""pipeline.core.fetch: the sha256 of a file, and verified downloads and copies from a local HTTP server."""

from __future__ import annotations

import hashlib

import pytest

from pipeline.core.fetch import (
    HASH_CHUNK,
    ChecksumError,
    DownloadError,
    copy_verified,
    download,
    part_path,
    sha256_file,
)

PAYLOAD = bytes(range(256)) * 9000  # a little over two hash chunks
SHA = hashlib.sha256(PAYLOAD).hexdigest()


def test_sha256_file_reads_in_chunks_and_matches_hashlib(tmp_path):
    p = tmp_path / "f.bin"
    p.write_bytes(PAYLOAD)
    assert len(PAYLOAD) > 2 * HASH_CHUNK
    assert sha256_file(p) == SHA
    assert sha256_file(p, chunk=7) == SHA
    (tmp_path / "empty").write_bytes(b"")
    assert sha256_file(tmp_path / "empty") == hashlib.sha256(b"").hexdigest()


def test_download_verifies_and_renames_into_place(served, tmp_path):
    base, root = served
    (root / "a.bin").write_bytes(PAYLOAD)
    target = tmp_path / "out" / "a.bin"
    target.parent.mkdir()
    target.write_bytes(b"old")
    assert download(f"{base}/a.bin", target, SHA) == SHA
    assert target.read_bytes() == PAYLOAD
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.bin"]  # no .part left


def test_any_of_several_digests_or_none_is_accepted(served, tmp_path):
    base, root = served
    (root / "a.bin").write_bytes(PAYLOAD)
    assert download(f"{base}/a.bin", tmp_path / "x", ["0" * 64, SHA]) == SHA
    assert download(f"{base}/a.bin", tmp_path / "y") == SHA  # unpinned: the digest is reported


def test_a_wrong_digest_keeps_nothing_and_leaves_the_old_file(served, tmp_path):
    base, root = served
    (root / "a.bin").write_bytes(b"tampered")
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    with pytest.raises(ChecksumError) as err:
        download(f"{base}/a.bin", target, SHA)
    assert err.value.got == hashlib.sha256(b"tampered").hexdigest()
    assert SHA in str(err.value)
    assert target.read_bytes() == b"old"
    assert not part_path(target).exists()


def test_http_errors_and_offline_are_download_errors(served, tmp_path):
    base, _ = served
    with pytest.raises(DownloadError) as err:
        download(f"{base}/missing.bin", tmp_path / "m", SHA)
    assert err.value.status == 404 and "HTTP 404" in str(err.value)
    with pytest.raises(DownloadError) as err:
        download("http://127.0.0.1:9/nothing", tmp_path / "n", SHA, timeout_s=2)
    assert err.value.status is None
    assert list(tmp_path.iterdir()) == [tmp_path / "www"]


def test_copy_verified(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(PAYLOAD)
    assert copy_verified(src, tmp_path / "dst.bin", SHA) == SHA
    assert (tmp_path / "dst.bin").read_bytes() == PAYLOAD
    with pytest.raises(ChecksumError):
        copy_verified(src, tmp_path / "bad.bin", "0" * 64)
    assert not (tmp_path / "bad.bin").exists() and not part_path(tmp_path / "bad.bin").exists()
