"""The service's HTML pages: recent jobs and deliveries, and one job with its report.

Every value shown comes from webhooks or models, so everything is escaped.
"""

from __future__ import annotations

import html
import time
from typing import Any

from handler.service.queue import JobQueue

_STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;font-size:90%}pre{white-space:pre-wrap}"
)


def page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{_STYLE}</style></head>'
        f"<body>{body}</body></html>"
    )


def job_page(job: dict[str, Any]) -> str:
    """One job: what it was for, where it stands, and its report (the comment's Markdown, as text)."""
    updated = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(job["updated_at"]))
    facts = "".join(
        f"<tr><th>{name}</th><td>{html.escape(str(value))}</td></tr>"
        for name, value in (
            ("job", job["id"]),
            ("for", job["key"]),
            ("kind", job["kind"]),
            ("status", job["status"]),
            ("attempts", job["attempts"]),
            ("updated", updated),
            ("result", job["result"] or ""),
        )
    )
    report = f"<h2>Report</h2><pre>{html.escape(job['report'])}</pre>" if job.get("report") else ""
    still = "<p>Still running: reload this page for the outcome.</p>" if job["status"] in ("queued", "running") else ""
    return page(
        f"DataSurface job {job['id']}", f"<h1>DataSurface job {job['id']}</h1><table>{facts}</table>{still}{report}"
    )


def status_page(queue: JobQueue) -> str:
    def rows(items: list[dict[str, Any]], columns: list[str]) -> str:
        out = []
        for item in items:
            cells = []
            for c in columns:
                value = item.get(c)
                if c.endswith("_at") and isinstance(value, float):
                    value = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(value))
                shown = html.escape(str(value if value is not None else ""))
                cells.append(f'<td><a href="jobs/{shown}">{shown}</a></td>' if c == "id" else f"<td>{shown}</td>")
            out.append("<tr>" + "".join(cells) + "</tr>")
        header = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
        return f"<table><tr>{header}</tr>{''.join(out)}</table>"

    jobs = queue.recent_jobs()
    validations = [j for j in jobs if j["kind"] == "validate"]
    deployments = [j for j in jobs if j["kind"] == "deploy"]
    job_columns = ["id", "key", "status", "attempts", "updated_at", "result"]
    return page(
        "DataSurface merge handler",
        (
            f"<h1>DataSurface merge handler</h1><p>Queue depth: {queue.depth()}</p>"
            f"<h2>Deployments</h2>{rows(deployments, job_columns)}"
            f"<h2>Validations</h2>{rows(validations, job_columns)}"
            f"<h2>Recent deliveries</h2>{rows(queue.recent_deliveries(), ['delivery_id', 'event', 'repo', 'received_at', 'outcome'])}"
        ),
    )
