"""The raw-aiokafka baseline: the broker's two hops (events -> relay -> notices -> sink) with
the same message counts and sizes, the same client settings and nothing else. The relay and
the sink are processes of their own, as the router and delivery are, so both share the cores alike.
"""

import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from broker.adapters.kafka import CONSUMER_SETTINGS, MAX_RECORDS, PRODUCER_SETTINGS
from tests.benchmark.measure import Processes, percentiles

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class BaselineLoad:
    event_sizes: list[int]  # bytes of each event value, in publishing order
    notice_sizes: list[list[int]]  # per event, the byte sizes of the notices it fans out to
    rate: float | None = None  # events/s offered (open loop); None = as fast as possible


async def run_baseline(
    bootstrap: str, load: BaselineLoad, partitions: int, workdir: Path,
    *, publishers: int = 1, in_flight: int = 64, timeout_s: float = 600.0,
) -> dict[str, Any]:  # fmt: skip
    run = f"bench-{uuid.uuid4().hex[:10]}"
    topics = {"events": f"{run}.events", "notices": f"{run}.notices"}
    sizes_file, received_file = workdir / f"{run}.sizes.json", workdir / f"{run}.received.json"
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(sizes_file.write_text, json.dumps(load.notice_sizes))
    events, expected = len(load.event_sizes), sum(map(len, load.notice_sizes))
    common = {"bootstrap": bootstrap, "timeout_s": timeout_s}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    children: list[Child] = []
    processes, stop = Processes(), asyncio.Event()
    try:
        await admin.create_topics([NewTopic(t, partitions, 1) for t in topics.values()])
        for role, config in (
            ("relay", topics | {"sizes_file": str(sizes_file), "want": events}),
            ("sink", {"notices": topics["notices"], "out": str(received_file), "want": expected}),
        ):
            stderr = workdir / f"{run}.{role}.stderr"
            children.append(await Child.spawn(role, common | config, stderr))
        await asyncio.gather(*(c.expect("ready", 60) for c in children))
        processes.watch("publisher", os.getpid())
        for child in children:
            processes.watch(child.role, child.process.pid)
        sampler = asyncio.create_task(processes.sample_every(0.5, stop))
        accepted = await _publish(bootstrap, topics["events"], load, publishers, in_flight)
        # The children linger after "done" until their stdin closes, so this last sample
        # sees all the CPU they spent.
        await asyncio.gather(*(c.expect("done", timeout_s + 60) for c in children))
        stop.set()
        await sampler
        usage = processes.report(events)
        for child in children:
            await child.finish()
    finally:
        stop.set()
        for child in (c.process for c in children if c.process.returncode is None):
            child.kill()
            await child.wait()
        await admin.delete_topics(list(topics.values()))
        await admin.close()

    received = json.loads(await asyncio.to_thread(received_file.read_text))
    if len(received) != expected:
        tails = "".join(c.tail() for c in children)
        raise RuntimeError(f"the sink got {len(received)} of {expected} notices: {tails}")
    seconds = max(t for _, t in received) - min(accepted)
    return {
        "events": events,
        "notices": len(received),
        "seconds": round(seconds, 3),
        "events_per_s": round(events / seconds, 1),
        "notices_per_s": round(len(received) / seconds, 1),
        "latency_ms": percentiles([(t - accepted[i]) * 1000 for i, t in received]),
        **usage,
        "settings": {
            "partitions": partitions, "in_flight": in_flight, "rate": load.rate,
            "publishers": publishers, "max_records": MAX_RECORDS,
            "producer": dict(PRODUCER_SETTINGS), "consumer": dict(CONSUMER_SETTINGS),
        },
    }  # fmt: skip


async def _publish(
    bootstrap: str, topic: str, load: BaselineLoad, publishers: int, in_flight: int
) -> list[float]:
    """Each event awaited until acknowledged, as the SDK does; returns acceptance times."""
    producers = [
        AIOKafkaProducer(bootstrap_servers=bootstrap, **PRODUCER_SETTINGS)
        for _ in range(publishers)
    ]
    for producer in producers:
        await producer.start()
    pad = os.urandom(max(load.event_sizes, default=0))
    accepted = [0.0] * len(load.event_sizes)
    slots = asyncio.Semaphore(in_flight)

    async def send(i: int, size: int) -> None:
        try:
            ack = await producers[i % publishers].send(topic, pad[:size], key=str(i).encode())
            await ack
            accepted[i] = time.time()
        finally:
            slots.release()

    try:
        start = time.monotonic()
        async with asyncio.TaskGroup() as tasks:
            for i, size in enumerate(load.event_sizes):
                if load.rate:
                    await asyncio.sleep(start + i / load.rate - time.monotonic())
                await slots.acquire()
                tasks.create_task(send(i, size))
    finally:
        for producer in producers:
            await producer.stop()
    return accepted


@dataclass
class Child:
    """A relay or sink process, speaking one word per line on stdout: "ready", then "done"."""

    role: str
    process: asyncio.subprocess.Process
    stderr: Path

    @classmethod
    async def spawn(cls, role: str, config: dict[str, Any], stderr: Path) -> "Child":
        with stderr.open("wb") as err:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tests.benchmark.baseline", role, json.dumps(config),
                cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=err,
            )  # fmt: skip
        return cls(role, process, stderr)

    async def expect(self, word: str, timeout: float) -> None:
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        except TimeoutError:
            raise RuntimeError(f"{self.role} not {word} after {timeout} s: {self.tail()}") from None
        if line.strip() != word.encode():
            code = await self.process.wait()
            raise RuntimeError(f"{self.role} exited {code} before {word}: {self.tail()}")

    async def finish(self) -> None:
        self.process.stdin.close()
        if code := await asyncio.wait_for(self.process.wait(), 30):
            raise RuntimeError(f"{self.role} exited {code}: {self.tail()}")

    def tail(self) -> str:
        return f"\n[{self.role} stderr]\n" + self.stderr.read_text(errors="replace")[-2000:]


# ------------------------------------------------------------------ the child processes


class _SayReady(ConsumerRebalanceListener):
    """Tells the parent the group is joined, keeping the group's start-up out of the timings."""

    said = False

    def on_partitions_revoked(self, revoked: Any) -> None:  # nothing held per partition
        pass

    def on_partitions_assigned(self, assigned: Any) -> None:
        if not self.said:
            self.said = True
            print("ready", flush=True)


async def _consume(
    config: dict[str, Any], topic: str, handle: Callable[[list[ConsumerRecord]], Awaitable[None]]
) -> None:
    """Batches handled, then committed, like the broker's consumers, until ``want`` are in."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=config["bootstrap"], group_id=f"{topic}.group", **CONSUMER_SETTINGS
    )
    consumer.subscribe([topic], listener=_SayReady())
    await consumer.start()
    done, deadline = 0, time.monotonic() + config["timeout_s"]
    try:
        while done < config["want"] and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=MAX_RECORDS)
            if records := [r for rs in batches.values() for r in rs]:
                await handle(records)
                done += len(records)
                await consumer.commit()
    finally:
        await consumer.stop()
    if done < config["want"]:
        print(f"timed out with {done} of {config['want']}", file=sys.stderr)


async def _relay(config: dict[str, Any], sizes: list[list[int]]) -> None:
    pad = os.urandom(max((s for row in sizes for s in row), default=0))
    producer = AIOKafkaProducer(bootstrap_servers=config["bootstrap"], **PRODUCER_SETTINGS)
    await producer.start()

    async def fan_out(records: list[ConsumerRecord]) -> None:
        acks = []
        for record in records:
            i = int(record.key)
            for j, size in enumerate(sizes[i]):
                # Keyed per notice, as the broker keys them per recipient: they spread out.
                key = f"{i}:{j}".encode()
                acks.append(await producer.send(config["notices"], pad[:size], key=key))
        await asyncio.gather(*acks)

    try:
        await _consume(config, config["events"], fan_out)
    finally:
        await producer.stop()


async def _sink(config: dict[str, Any]) -> list[tuple[int, float]]:
    received: list[tuple[int, float]] = []

    async def note(records: list[ConsumerRecord]) -> None:
        now = time.time()
        received.extend((int(r.key.split(b":")[0]), now) for r in records)

    await _consume(config, config["notices"], note)
    return received


def main(role: str, config: dict[str, Any]) -> None:
    if role == "relay":
        asyncio.run(_relay(config, json.loads(Path(config["sizes_file"]).read_text())))
    else:
        Path(config["out"]).write_text(json.dumps(asyncio.run(_sink(config))))
    print("done", flush=True)
    sys.stdin.read()  # held until the parent has taken its last CPU sample


if __name__ == "__main__":
    main(sys.argv[1], json.loads(sys.argv[2]))
