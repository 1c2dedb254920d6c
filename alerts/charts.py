"""The 30-day trend chart, drawn on the server (used by Security alerts, the Overview and a vault's Security page):
stacked bars per day by severity, a labelled y axis (alerts per day, three gridlines) and x axis (dates), a legend
in the template. SVG attributes only: no inline style, no script (the CSP allows neither)."""

from __future__ import annotations

import math
from typing import Any

SEVERITIES_BOTTOM_UP = ("Informational", "Low", "Medium", "High")


def nice_max(n: int) -> int:
    """The top of the y axis: n rounded up to 1, 2 or 5 × a power of ten (at least 4, so the ticks are whole)."""
    if n <= 4:
        return 4
    power = int(10 ** math.floor(math.log10(n)))
    for step in (1, 2, 5, 10):
        if n <= step * power:
            return step * power
    return 10 * power


def chart(trend: dict[str, Any], *, width: int = 600, height: int = 160) -> dict[str, Any]:
    days = trend["days"]
    left, right, top, bottom = 40, 8, 8, 34  # room for the y labels, the x labels and the x axis title
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = nice_max(int(trend["max"]))
    step = plot_w / max(len(days), 1)
    scale = plot_h / top_value
    base = top + plot_h
    bars = []
    for i, day in enumerate(days):
        y = float(base)
        for severity in SEVERITIES_BOTTOM_UP:
            h = day[severity] * scale
            if h:
                y -= h
                bars.append(
                    {
                        "x": round(left + i * step + 1, 1),
                        "y": round(y, 1),
                        "w": round(max(step - 2, 1), 1),
                        "h": round(h, 1),
                        "severity": severity.lower(),
                        "day": day["day"],
                        "n": day[severity],
                    }
                )
    y_ticks = [
        {"y": round(base - v * scale, 1), "text_y": round(base - v * scale + 4, 1), "value": v}
        for v in (0, top_value // 2, top_value)
    ]
    labels = [
        {"x": round(left + i * step + step / 2, 1), "text": d["day"].strftime("%-d %b")}
        for i, d in enumerate(days)
        if i % 7 == 0 or (i == len(days) - 1 and i % 7 >= 4)  # the last day too, when clear of the one before
    ]
    return {
        "bars": bars,
        "labels": labels,
        "y_ticks": y_ticks,
        "left": left,
        "right_edge": width - right,
        "base": base,
        "label_y": base + 14,
        "title_y": height - 4,
        "mid_x": left + plot_w / 2,
        "mid_y": top + plot_h / 2,
        "width": width,
        "height": height,
        "max": trend["max"],
        "days": days,
    }
