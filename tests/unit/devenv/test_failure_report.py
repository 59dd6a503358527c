"""What a failed e2e test shows of a worker pod's log (the rest of the report is kubectl's)."""

from __future__ import annotations

from kconnect_devenv.cluster import log_tail_without_requests

ACCESS = (
    '[2026-12-07 10:24:38,453] INFO 10.244.0.1 [07/Dec/2026:10:24:38 +0000] "GET /health '
    'HTTP/1.1" 200 272 "-" "kube-probe/1.34" (aiohttp.access:229)'
)


def test_the_tail_skips_rest_access_lines_and_keeps_the_last_others() -> None:
    log = "\n".join(
        [
            "[2026-12-07 10:23:54,887] INFO starting task t-0 (kconnect.worker.worker:311)",
            *[ACCESS] * 50,
            "[2026-12-07 10:23:54,930] ERROR task t-0 failed (kconnect.worker.task:189)",
            "RuntimeError: injected failure",
            *[ACCESS] * 50,
        ]
    )
    assert log_tail_without_requests(log, lines=2).splitlines() == [
        "[2026-12-07 10:23:54,930] ERROR task t-0 failed (kconnect.worker.task:189)",
        "RuntimeError: injected failure",
    ]
    assert "starting task" in log_tail_without_requests(log, lines=3)
    assert log_tail_without_requests(ACCESS) == ""
