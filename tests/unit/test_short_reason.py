"""The daemon's failures in a few words, for the banner (console/runtime/docker/runtime.py)."""

from __future__ import annotations

import http.client

import docker.errors
import requests.exceptions
import urllib3.exceptions

from console.runtime.docker.runtime import short_reason


def wrapped(inner: BaseException) -> docker.errors.DockerException:
    """What docker-py raises when the daemon goes away during its version request."""
    aborted = urllib3.exceptions.ProtocolError("Connection aborted.", inner)
    connection = requests.exceptions.ConnectionError(aborted)
    try:
        try:
            raise connection
        except requests.exceptions.ConnectionError as exc:
            raise docker.errors.DockerException(
                f"Error while fetching server API version: {exc}") from exc
    except docker.errors.DockerException as outer:
        return outer


def test_a_daemon_killed_mid_request_reads_as_its_words() -> None:
    closed = http.client.RemoteDisconnected("Remote end closed connection without response")
    assert short_reason(wrapped(closed)) == "connection closed"


def test_a_socket_gone_reads_as_its_errno() -> None:
    gone = FileNotFoundError(2, "No such file or directory")
    assert short_reason(wrapped(gone)) == "no such file or directory"


def test_refused_and_reset_keep_their_errno_words() -> None:
    assert short_reason(wrapped(ConnectionRefusedError(111, "Connection refused"))) == \
        "connection refused"
    assert short_reason(wrapped(ConnectionResetError(104, "Connection reset by peer"))) == \
        "connection reset by peer"
