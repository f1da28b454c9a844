"""The floor: what the disk and the loopback cost before any casahub code runs.

- a bare SQLite commit (stdlib sqlite3, WAL, synchronous=FULL, one small INSERT per
  transaction) in the directory the benchmarks put the hubs' data dirs in (same disk);
- the same commit through aiosqlite (BEGIN IMMEDIATE / INSERT / COMMIT, each a hop to the
  connection's thread and back, as the hub does it);
- a loopback TCP round trip of 64 bytes: blocking sockets with TCP_NODELAY, and asyncio
  streams (the stack the hub and its peers use).

Every other latency of the suite is also reported as a multiple of the bare commit.
"""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import Report, Row, summary_ms

SECTION = "1. floor"


def sqlite_commits(folder: Path, count: int) -> list[float]:
    path = folder / "floor.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, at REAL, data TEXT)")
    samples = []
    for n in range(count + 20):
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (at, data) VALUES (?, ?)", (started, "x" * 100))
        conn.execute("COMMIT")
        if n >= 20:  # the first commits create the WAL and warm the page cache
            samples.append(time.perf_counter() - started)
    conn.close()
    path.unlink()
    for extra in ("-wal", "-shm"):
        Path(str(path) + extra).unlink(missing_ok=True)
    return samples


async def aiosqlite_commits(folder: Path, count: int) -> list[float]:
    import aiosqlite

    path = folder / "floor-aio.db"
    samples = []
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=FULL")
        await conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, at REAL, data TEXT)")
        for n in range(count + 20):
            started = time.perf_counter()
            await conn.execute("BEGIN IMMEDIATE")
            await conn.execute("INSERT INTO t (at, data) VALUES (?, ?)", (started, "x" * 100))
            await conn.execute("COMMIT")
            if n >= 20:
                samples.append(time.perf_counter() - started)
    path.unlink()
    for extra in ("-wal", "-shm"):
        Path(str(path) + extra).unlink(missing_ok=True)
    return samples


def socket_round_trips(count: int) -> list[float]:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def echo() -> None:
        conn, _ = server.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)

    thread = threading.Thread(target=echo, daemon=True)
    thread.start()
    client = socket.create_connection(("127.0.0.1", port))
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    payload = b"x" * 64
    samples = []
    for n in range(count + 50):
        started = time.perf_counter()
        client.sendall(payload)
        got = 0
        while got < len(payload):
            got += len(client.recv(4096))
        if n >= 50:
            samples.append(time.perf_counter() - started)
    client.close()
    thread.join(5)
    server.close()
    return samples


async def asyncio_round_trips(count: int) -> list[float]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(4096):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    payload = b"x" * 64
    samples = []
    for n in range(count + 50):
        started = time.perf_counter()
        writer.write(payload)
        await writer.drain()
        await reader.readexactly(len(payload))
        if n >= 50:
            samples.append(time.perf_counter() - started)
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    return samples


def run(folder: Path, report: Report, *, commits: int = 500, trips: int = 2000) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    bare = summary_ms(sqlite_commits(folder, commits))
    aio = summary_ms(asyncio.run(aiosqlite_commits(folder, commits)))
    tcp = summary_ms(socket_round_trips(trips))
    tcp_aio = summary_ms(asyncio.run(asyncio_round_trips(trips)))
    report.add(
        Row(SECTION, "SQLite commit, WAL + synchronous=FULL (sqlite3)", bare),
        Row(SECTION, "  same, through aiosqlite (3 thread hops)", aio),
        Row(SECTION, "loopback TCP round trip, 64 B (blocking)", tcp),
        Row(SECTION, "  same, asyncio streams", tcp_aio),
    )
    return {
        "folder": str(folder),
        "sqlite_commit": bare,
        "aiosqlite_commit": aio,
        "tcp_round_trip": tcp,
        "tcp_round_trip_asyncio": tcp_aio,
        "note": "one small INSERT per BEGIN IMMEDIATE/COMMIT; the hubs' data dirs live in the same folder",
    }
