"""The 30-day trend chart, drawn on the server (used by Security alerts, the Overview and a vault's Security page)."""

from __future__ import annotations

from typing import Any


def chart(trend: dict[str, Any], *, width: int = 600, height: int = 120) -> dict[str, Any]:
    """A server-rendered stacked bar chart (SVG attributes only; no inline style, no script)."""
    days = trend["days"]
    step = width / max(len(days), 1)
    scale = (height - 16) / trend["max"]
    bars = []
    for i, day in enumerate(days):
        y = height - 14
        for severity in ("Informational", "Low", "Medium", "High"):
            h = day[severity] * scale
            if h:
                y -= h
                bars.append(
                    {
                        "x": round(i * step + 1, 1),
                        "y": round(y, 1),
                        "w": round(max(step - 2, 1), 1),
                        "h": round(h, 1),
                        "severity": severity.lower(),
                        "day": day["day"],
                        "n": day[severity],
                    }
                )
    labels = [
        {"x": round(i * step + 2, 1), "text": d["day"].strftime("%d %b")}
        for i, d in enumerate(days)
        if i % 7 == 0
    ]
    return {
        "bars": bars,
        "labels": labels,
        "width": width,
        "height": height,
        "max": trend["max"],
        "days": days,
    }
