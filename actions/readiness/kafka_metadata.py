"""Kafka topics through the Kafka protocol: one Metadata v0 request, no client library.

Wire format (Kafka protocol guide, "Metadata API", key 3, v0): request header v1 (api_key,
api_version, correlation_id, client_id) and a body of an int32 array of topic names, empty
meaning every topic. Response v0: correlation_id; brokers [node_id int32, host string,
port int32]; topics [error_code int16, name string, partitions [error_code int16,
partition int32, leader int32, replicas [int32], isr [int32]]].
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass

from console.probes.kafka import CLIENT_ID, KafkaProtocolError, read_frame
from console.probes.tcp import close_writer

METADATA = 3
INTERNAL_PREFIX = "__"  # __consumer_offsets, __transaction_state


@dataclass(frozen=True)
class TopicInfo:
    name: str
    error_code: int
    partitions: int
    leaderless: int  # partitions without a leader (-1): not accessible


def encode_metadata_request(correlation_id: int) -> bytes:
    header = struct.pack(">hhih", METADATA, 0, correlation_id, len(CLIENT_ID)) + CLIENT_ID
    body = struct.pack(">i", 0)  # no names: every topic
    return struct.pack(">i", len(header) + len(body)) + header + body


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, fmt: str) -> tuple[int, ...]:
        size = struct.calcsize(fmt)
        if self.at + size > len(self.data):
            raise KafkaProtocolError("malformed Metadata response (truncated)")
        values = struct.unpack_from(fmt, self.data, self.at)
        self.at += size
        return values

    def string(self) -> str:
        (length,) = self.take(">h")
        if length < 0:
            return ""
        raw = self.data[self.at:self.at + length]
        if len(raw) != length:
            raise KafkaProtocolError("malformed Metadata response (string)")
        self.at += length
        return raw.decode("utf-8", "replace")

    def count(self) -> int:
        (n,) = self.take(">i")
        if n < 0 or n > len(self.data):
            raise KafkaProtocolError(f"malformed Metadata response (array of {n})")
        return n


def decode_metadata_response(payload: bytes, correlation_id: int) -> list[TopicInfo]:
    r = _Reader(payload)
    (got,) = r.take(">i")
    if got != correlation_id:
        raise KafkaProtocolError(f"correlation id {got}, expected {correlation_id}")
    for _ in range(r.count()):  # brokers
        r.take(">i")
        r.string()
        r.take(">i")
    topics = []
    for _ in range(r.count()):
        (error,) = r.take(">h")
        name = r.string()
        partitions = leaderless = 0
        for _ in range(r.count()):
            _perr, _pid, leader = r.take(">hii")
            for _ in range(r.count()):
                r.take(">i")
            for _ in range(r.count()):
                r.take(">i")
            partitions += 1
            leaderless += leader < 0
        topics.append(TopicInfo(name, error, partitions, leaderless))
    return topics


async def list_topics(host: str, port: int, timeout: float) -> list[TopicInfo]:
    async def ask() -> list[TopicInfo]:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(encode_metadata_request(7))
            await writer.drain()
            return decode_metadata_response(await read_frame(reader), 7)
        finally:
            await close_writer(writer)

    return await asyncio.wait_for(ask(), timeout)
