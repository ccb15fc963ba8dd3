"""What one payment costs the server's CPU, without a network or a load generator: the app
called straight through ASGI, one request at a time, on a scratch database.

    python bench/payment_cost.py [--database-url postgresql://…/postgres] [--batches 15]

Prints the process's CPU time per payment (median and best of batches of 100). For a figure
that doesn't move with the machine's load, count instructions instead: run it under
cachegrind with 1 and with 4 batches and divide the difference by 300,

    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \\
        python bench/payment_cost.py --batches 1 --warm-up 0     # then --batches 4

(docs/PERFORMANCE.md quotes such counts: instructions per payment, and for the bare endpoint).
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import UNLIMITED, cli, new_key, scratch_database  # noqa: E402


async def _call(app: Any, method: str, path: str, body: object, key: str) -> tuple[int, bytes]:
    raw = json.dumps(body, ensure_ascii=False).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"bench"),
            (b"authorization", f"Bearer {key}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(raw)).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
    }
    sent = False
    answer: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return answer["status"], answer["body"]


async def _measure(app: Any, admin: str, finance: str, *, batches: int, warm_up: int) -> None:
    async with app.router.lifespan_context(app):

        async def created(path: str, body: object) -> Any:
            status, content = await _call(app, "POST", path, body, admin)
            assert status == 201, content
            return json.loads(content)["id"]

        programme = await created(
            "/api/v1/programmes",
            {
                "code": "COST",
                "name": "成本测量（合成）",
                "region": "基准县",
                "start_year": 2021,
                "end_year": 2025,
            },
        )
        item = await created(
            f"/api/v1/programmes/{programme}/plan-items", {"code": "基准", "name": "合成"}
        )
        projects = [
            await created(
                "/api/v1/projects",
                {
                    "code": f"C-{n}",
                    "name": "合成项目",
                    "plan_item_id": item,
                    "category": "new_build",
                    "original_estimate": "999999999999.99",
                    "budget_policy": "block",
                },
            )
            for n in range(8)
        ]
        tag = uuid.uuid4().hex[:6]
        posted = 0

        async def pay() -> None:
            nonlocal posted
            posted += 1
            status, content = await _call(
                app,
                "POST",
                "/api/v1/disbursements",
                {
                    "project_id": projects[posted % 8],
                    "amount": "123.45",
                    "paid_on": "2023-06-30",
                    "payee": "合成收款单位",
                    "funding_source": "county",
                    "voucher_no": f"{tag}-{posted}",
                },
                finance,
            )
            assert status == 201, content

        for _ in range(warm_up):
            await pay()
        cpu = []
        for _ in range(batches):
            started = time.process_time()
            for _ in range(100):
                await pay()
            cpu.append((time.process_time() - started) * 10)  # ms per payment
        print(
            f"CPU per payment: median {statistics.median(cpu):.3f} ms, "
            f"best {min(cpu):.3f} ms ({batches} batches of 100)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url")
    parser.add_argument("--batches", type=int, default=15)
    parser.add_argument("--warm-up", type=int, default=50)
    args = parser.parse_args()
    with scratch_database(args.database_url) as url:
        cli(url, "migrate")
        admin, finance = new_key(url, "admin"), new_key(url, "finance")
        os.environ.update(UNLIMITED, LOG_LEVEL="WARNING")
        from app.config import Settings
        from app.main import create_app

        app = create_app(Settings(database_url=url, log_level="WARNING"))
        asyncio.run(_measure(app, admin, finance, batches=args.batches, warm_up=args.warm_up))
    return 0


if __name__ == "__main__":
    sys.exit(main())
