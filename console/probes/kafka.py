"""Kafka probe: an ApiVersions v0 request over raw TCP, no client library.

ApiVersions (api key 18) is what every Kafka client sends first and every broker version
answers, without authentication. A broker that answers it with error code 0 has finished
starting its network layer; an open port that answers garbage is something else (a TLS
listener, a proxy, the wrong service).

Wire format (Kafka protocol guide): every message is an int32 size followed by that many
bytes. Request header v1: api_key int16, api_version int16, correlation_id int32,
client_id nullable string (int16 length + bytes); ApiVersions v0 has an empty body.
Response header v0: correlation_id int32; body v0: error_code int16, then an array
(int32 count) of (api_key int16, min_version int16, max_version int16).
"""

from __future__ import annotations

import asyncio
import random
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from console.model import HealthCheck, Service
from console.probes.base import ProbeResult
from console.probes.common import Outcome, ProbeError, failed, guarded
from console.probes.tcp import close_writer

if TYPE_CHECKING:
    from console.runtime.base import Runtime

API_VERSIONS = 18
CLIENT_ID = b"vextrus-console"
MAX_FRAME = 1 << 20  # an ApiVersions answer is a few hundred bytes; more means "not Kafka"
ERROR_NAMES = {
    -1: "UNKNOWN_SERVER_ERROR",
    35: "UNSUPPORTED_VERSION",
    33: "UNSUPPORTED_SASL_MECHANISM",
    58: "SASL_AUTHENTICATION_FAILED",
}


class KafkaProtocolError(ProbeError):
    """The peer does not speak Kafka's framing the way a broker would."""


@dataclass(frozen=True)
class ApiVersionsResponse:
    correlation_id: int
    error_code: int
    api_keys: tuple[tuple[int, int, int], ...]  # (api_key, min_version, max_version)


class KafkaProbe:
    """ok when the broker answers ApiVersions v0 with error code 0."""

    kind = "kafka"

    async def run(
        self, check: HealthCheck, service: Service, runtime: Runtime | None
    ) -> ProbeResult:
        """One request, one response, on a fresh connection."""
        if check.port is None:
            return failed(check, "no port configured")
        port = check.port

        async def body() -> Outcome:
            correlation_id = random.randrange(1, 1 << 31)
            reader, writer = await asyncio.open_connection(check.host, port)
            try:
                writer.write(encode_api_versions_request(correlation_id))
                await writer.drain()
                response = decode_api_versions_response(await read_frame(reader))
            finally:
                await close_writer(writer)
            return judge(response, correlation_id)

        return await guarded(check, body)


def encode_api_versions_request(correlation_id: int, client_id: bytes = CLIENT_ID) -> bytes:
    """Size-prefixed ApiVersions v0 request: header v1, empty body."""
    header = struct.pack(">hhih", API_VERSIONS, 0, correlation_id, len(client_id)) + client_id
    return struct.pack(">i", len(header)) + header


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    """One size-prefixed message; a silly size is rejected before reading it."""
    try:
        (size,) = struct.unpack(">i", await reader.readexactly(4))
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise KafkaProtocolError("not a Kafka response (truncated size prefix)") from None
        raise ProbeError("connection closed without a response") from None
    if not 6 <= size <= MAX_FRAME:
        raise KafkaProtocolError(f"not a Kafka response (frame size {size})")
    try:
        return await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        raise ProbeError("connection closed in the middle of a response") from None


def decode_api_versions_response(payload: bytes) -> ApiVersionsResponse:
    """Parse a v0 response payload (after the size prefix), checking every length."""
    correlation_id, error_code = struct.unpack_from(">ih", payload, 0)
    if len(payload) < 10:
        if error_code != 0:  # brokers may omit the array when they reject the request
            return ApiVersionsResponse(correlation_id, error_code, ())
        raise KafkaProtocolError("malformed ApiVersions response (no api key array)")
    (count,) = struct.unpack_from(">i", payload, 6)
    if count < 0 or 10 + 6 * count > len(payload):
        raise KafkaProtocolError(f"malformed ApiVersions response (array of {count})")
    keys = tuple(struct.unpack_from(">hhh", payload, 10 + 6 * i) for i in range(count))
    return ApiVersionsResponse(correlation_id, error_code, keys)


def judge(response: ApiVersionsResponse, correlation_id: int) -> Outcome:
    """Correlation id must echo ours; error code 0 means healthy."""
    if response.correlation_id != correlation_id:
        return Outcome(False, error="not a Kafka response (correlation id mismatch)")
    count = len(response.api_keys)
    if response.error_code != 0:
        name = ERROR_NAMES.get(response.error_code, f"error code {response.error_code}")
        return Outcome(False, output=f"{count} API keys", error=f"ApiVersions failed: {name}")
    return Outcome(True, output=f"ApiVersions v0 ok: {count} API keys")
