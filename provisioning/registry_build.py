"""Turning a registry extract into the sealed registry file, on every core.

The CSV is cut into small byte ranges at line ends (a field may not span
lines); a pool of worker processes checks and seals each range into a sorted
table of its own, and SQLite merges the sorted tables in key order at the end
(in C, without the rows passing through Python again). Duplicate codes are
found in that merge: the merged table is smaller than the chunks only when a
code appears twice, and only then are the chunks grouped.
"""
from __future__ import annotations

import csv
import gc
import multiprocessing
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.core.eligibility import ElectionRules, Verdict
from kiosk.core.national_code import parse_national_code
from kiosk.store.registry import RecordSealer, RegistryKeys, RegistryWriter
from provisioning.extract_input import ExtractRefused
from provisioning.voters_csv import GAP_BYTES, RowChecker, RowProblem, Rejected, check_header, detail_of, split_line

CHUNK_BYTES = 256 << 10  # small chunks measured fastest: sorted lists and fresh B-trees stay in cache
CATEGORIES = (Verdict.ELIGIBLE, Verdict.UNDERAGE, Verdict.DECEASED, Verdict.SUSPENDED)
_CATEGORY_OF = {v: i for i, v in enumerate(CATEGORIES)}
# One sorted table per chunk: inserting sorted rows into a fresh B-tree only appends,
# and SQLite merges the sorted tables at the end without sorting again.
_CHUNK_TABLE = ("CREATE TABLE chunk_{n} (k BLOB NOT NULL, line INTEGER NOT NULL, cat INTEGER NOT NULL, "
                "v BLOB NOT NULL, PRIMARY KEY (k, line)) WITHOUT ROWID")
_SPOILED_TABLE = "CREATE TABLE IF NOT EXISTS spoiled (k BLOB NOT NULL, line INTEGER NOT NULL)"
# SQLite allows at most 500 terms in one compound SELECT; keep well below.
MAX_CHUNKS = 400


@dataclass(slots=True)
class ChunkResult:
    """What one byte range produced, besides its rows in its chunk table."""

    counts: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    rejects: list[Rejected] = field(default_factory=list)
    padded: int = 0
    normalised: int = 0


@dataclass(slots=True)
class RegistryBuild:
    """Counts per category of the rows that made it into the registry, and every rejected line.

    `padded` and `normalised` count accepted rows whose code was padded or whose names were normalised.
    """

    counts: list[int]
    rejects: list[Rejected]
    padded: int = 0
    normalised: int = 0


def plan_chunks(path: Path) -> tuple[list[tuple[int, int, int]], int]:
    """Byte ranges (start, end, first line number) after the header, and the header's end."""
    with open(path, "rb") as f:
        header = f.readline()
        chunks: list[tuple[int, int, int]] = []
        start, line = len(header), 2
        size = os.fstat(f.fileno()).st_size
        step = max(CHUNK_BYTES, size // (MAX_CHUNKS - 10))
        while start < size:
            f.seek(min(start + step, size))
            f.readline()
            end = min(f.tell(), size)
            f.seek(start)
            chunks.append((start, end, line))
            line += f.read(end - start).count(b"\n")
            start = end
    return chunks, len(header)


def read_header(path: Path) -> None:
    """Refuse an extract whose header is not the documented one."""
    try:
        with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as f:
            header = next(csv.reader(f), [])
    except OSError as exc:
        raise ExtractRefused(f"voter extract cannot be read: {path}") from exc
    except csv.Error as exc:
        raise ExtractRefused("voter extract line 1: unreadable CSV") from exc
    if not check_header(header):
        raise ExtractRefused("voter extract header must be: national_code,first_name,last_name,"
                             "father_name,birth_date,gender,status")


class _Worker:
    """Per-process state: the keys, the rules, and this process's part table."""

    def __init__(self, source: Path, parts_dir: Path, registry_key: bytes, rules: ElectionRules,
                 pad_codes: bool) -> None:
        self.source = source
        self.keys = RegistryKeys.derive(registry_key)
        self.checker = RowChecker(rules, pad_codes)
        self.db = sqlite3.connect(parts_dir / f"part-{os.getpid()}.sqlite", isolation_level=None)
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute(_SPOILED_TABLE)

    def run(self, index: int, start: int, end: int, first_line: int) -> ChunkResult:
        """Check and seal the rows of one byte range into this process's part table."""
        with open(self.source, "rb") as f:
            f.seek(start)
            data = f.read(end - start)
        lines = data.decode("utf-8", errors="surrogateescape").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        result = ChunkResult()
        sealer = RecordSealer(self.keys, start=index << 32)
        checker = self.checker
        checker.padded = checker.normalised = 0
        # Doubled spaces or ZWNJs are rare: one search of the chunk's bytes spares the clean chunks a search per line.
        careful = any(gap in data for gap in GAP_BYTES)
        index_of, seal = self.keys.index_of, sealer.seal
        check = checker.check_line_careful if careful else checker.check_line
        rows: list[tuple[bytes, int, int, bytes]] = []
        # Keys of valid codes on rejected rows: a good row with the same code is a duplicate too.
        spoiled: list[tuple[bytes, int]] = []
        counts, rejects = result.counts, result.rejects
        # Millions of small objects and no cycles: the cyclic collector only costs time here.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            for line_no, line in enumerate(lines, start=first_line):
                checked = check(line)
                if isinstance(checked, RowProblem):
                    fields = split_line(line)
                    rejects.append(Rejected(line_no, checked, detail_of(checked, fields)))
                    code = parse_national_code(fields[0]) if fields else None
                    if isinstance(code, str):
                        spoiled.append((index_of(code), line_no))
                    continue
                code, verdict, plain = checked
                cat = _CATEGORY_OF[verdict]
                counts[cat] += 1
                key = index_of(code)
                rows.append((key, line_no, cat, seal(key, plain)))
        finally:
            if gc_was_enabled:
                gc.enable()
        result.padded, result.normalised = checker.padded, checker.normalised
        rows.sort()
        self.db.execute("BEGIN")
        self.db.execute(_CHUNK_TABLE.format(n=index))
        self.db.executemany(f"INSERT INTO chunk_{index} VALUES (?, ?, ?, ?)", rows)
        self.db.executemany("INSERT INTO spoiled VALUES (?, ?)", spoiled)
        self.db.execute("COMMIT")
        return result

    def close(self) -> None:
        self.db.close()


_worker: _Worker | None = None


def _init_worker(source: Path, parts_dir: Path, registry_key: bytes, rules: ElectionRules, pad_codes: bool) -> None:
    global _worker
    _worker = _Worker(source, parts_dir, registry_key, rules, pad_codes)


def _run_chunk(task: tuple[int, int, int, int]) -> ChunkResult:
    assert _worker is not None
    return _worker.run(*task)


def build_registry(source: Path, out: Path, registry_key: bytes, election_id: str, rules: ElectionRules,
                   workers: int | None = None, pad_codes: bool = False) -> RegistryBuild:
    """Check and seal every row of `source` (UTF-8, lines ending in \\n) into a new registry at `out`."""
    read_header(source)
    chunks, _ = plan_chunks(source)
    if not chunks:
        raise ExtractRefused("voter extract holds no voters, only its header: nothing was built")
    parts_dir = out.parent / f".{out.name}.parts"
    parts_dir.mkdir()
    tasks = [(i, s, e, line) for i, (s, e, line) in enumerate(chunks)]
    workers = min(workers or os.cpu_count() or 1, len(tasks))
    if workers <= 1:
        worker = _Worker(source, parts_dir, registry_key, rules, pad_codes)
        try:
            results = [worker.run(*t) for t in tasks]
        finally:
            worker.close()
    else:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(workers, _init_worker, (source, parts_dir, registry_key, rules, pad_codes)) as pool:
            results = pool.map(_run_chunk, tasks, chunksize=1)
            pool.close()
            pool.join()
    counts = [sum(r.counts[i] for r in results) for i in range(4)]
    rejects = [rej for r in results for rej in r.rejects]
    _merge(parts_dir, out, registry_key, election_id, counts, rejects)
    rejects.sort(key=lambda r: r.line)
    return RegistryBuild(counts, rejects, sum(r.padded for r in results), sum(r.normalised for r in results))


def _merge(parts_dir: Path, out: Path, registry_key: bytes, election_id: str,
           counts: list[int], rejects: list[Rejected]) -> None:
    keys = RegistryKeys.derive(registry_key)
    writer = RegistryWriter(out, keys, election_id)
    db = writer.connection
    parts = sorted(parts_dir.glob("part-*.sqlite"))
    for i, part in enumerate(parts):
        db.execute(f"ATTACH DATABASE ? AS p{i}", (str(part),))
    tables = [f"p{i}.{name}" for i in range(len(parts)) for (name,) in db.execute(
        f"SELECT name FROM p{i}.sqlite_master WHERE type = 'table' AND name LIKE 'chunk_%'")]
    union = " UNION ALL ".join(f"SELECT k, line, cat, v FROM {t}" for t in tables) or \
        "SELECT NULL, NULL, NULL, NULL WHERE 0"
    spoiled = " UNION ALL ".join(f"SELECT k FROM p{i}.spoiled" for i in range(len(parts))) or \
        "SELECT NULL WHERE 0"
    db.execute(f"INSERT OR IGNORE INTO voters (k, v) SELECT k, v FROM ({union}) ORDER BY k, line")
    merged = db.execute("SELECT count(*) FROM voters").fetchone()[0]
    any_spoiled = db.execute(f"SELECT EXISTS ({spoiled})").fetchone()[0]
    if merged != sum(counts) or any_spoiled:
        # A code appears twice: reject every row that carries it, the first one too,
        # and a good row whose code also stands on a rejected row.
        dupes = db.execute(f"SELECT k, line, cat FROM ({union}) WHERE k IN "
                           f"(SELECT k FROM ({union}) GROUP BY k HAVING count(*) > 1 "
                           f"UNION SELECT k FROM ({spoiled}))").fetchall()
        for _, line, cat in dupes:
            rejects.append(Rejected(line, RowProblem.DUPLICATE_CODE))
            counts[cat] -= 1
        writer.remove({k for k, _, _ in dupes})
    for i in range(len(parts)):
        db.execute(f"DETACH DATABASE p{i}")
    writer.close(sum(counts))
    for part in parts:
        part.unlink()
    parts_dir.rmdir()
