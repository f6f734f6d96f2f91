#!/usr/bin/python3
"""Draws a Grafana dashboard's panels from a live Prometheus, as a grid of small time-series plots.

Each panel's queries (targets[].expr) run over the last N minutes through Prometheus's HTTP API
(/api/v1/query_range); each series is drawn with its legendFormat ({{label}} filled in), in
dashboard order (gridPos y, then x). Nothing is drawn by hand: a panel without data says so.

    hack/dashboard-png.py --prometheus http://127.0.7.90:9090 \\
        --dashboard charts/cachetier-operator/files/dashboards/cachetier-overview.json \\
        --minutes 5 --out docs/overview-dashboard.png

Needs matplotlib: Debian's python3-matplotlib (hack/deps-apt.sh), hence Debian's /usr/bin/python3
(a pyenv or venv python on PATH does not see Debian's packages). The metrics
integration test (make test-integration-metrics) runs it against its Prometheus after the load.
"""
import argparse
import json
import math
import re
import sys
import time
import urllib.parse
import urllib.request

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)
from matplotlib.ticker import FuncFormatter  # noqa: E402


def query_range(prom, expr, start, end, step):
    qs = urllib.parse.urlencode({"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step}s"})
    with urllib.request.urlopen(f"{prom.rstrip('/')}/api/v1/query_range?{qs}", timeout=30) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise RuntimeError(f"query {expr}: {body.get('error')}")
    return body["data"]["result"]


def legend(fmt, metric, expr):
    if not fmt:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
        return labels or expr
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: metric.get(m.group(1), ""), fmt)


def formatter(unit):
    """A y-axis tick formatter for a Grafana unit (the few the tier's dashboards use)."""
    def seconds(v, _):
        if v == 0:
            return "0"
        return f"{v * 1000:.3g} ms" if abs(v) < 1 else f"{v:.3g} s"

    units = {
        "s": seconds,
        "percentunit": lambda v, _: f"{v * 100:.0f}%",
        "reqps": lambda v, _: f"{v:.3g}/s",
        "ops": lambda v, _: f"{v:.3g}/s",
        "bytes": lambda v, _: f"{v / 2**20:.3g} MiB",
    }
    return FuncFormatter(units.get(unit, lambda v, _: f"{v:.3g}"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prometheus", required=True, help="Prometheus base URL, e.g. http://127.0.7.90:9090")
    ap.add_argument("--dashboard", required=True, help="Grafana dashboard JSON file")
    ap.add_argument("--out", required=True, help="PNG to write")
    ap.add_argument("--minutes", type=float, default=10, help="time range: the last N minutes (default 10)")
    ap.add_argument("--columns", type=int, default=3, help="panels per row (default 3)")
    ap.add_argument("--require-data", action="store_true", help="exit 1 when no panel has data")
    args = ap.parse_args()

    with open(args.dashboard, encoding="utf-8") as f:
        dash = json.load(f)
    panels = sorted(dash["panels"], key=lambda p: (p.get("gridPos", {}).get("y", 0), p.get("gridPos", {}).get("x", 0)))
    end = time.time()
    start = end - args.minutes * 60
    step = max(1, int(args.minutes * 60 / 240))  # about 240 points per series

    cols = args.columns
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.1 * rows), squeeze=False)
    with_data = 0
    for i, panel in enumerate(panels):
        ax = axes[i // cols][i % cols]
        ax.set_title(panel["title"], fontsize=9.5, loc="left")
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "short")
        drawn = 0
        for t in panel.get("targets", []):
            for series in query_range(args.prometheus, t["expr"], start, end, step):
                xs = [(float(ts) - end) / 60 for ts, _ in series["values"]]
                ys = [float(v) for _, v in series["values"]]
                ys = [float("nan") if math.isinf(y) else y for y in ys]
                label = legend(t.get("legendFormat"), series["metric"], t["expr"])[:40]
                # matplotlib leaves labels starting with "_" out of legends (__consumer_offsets).
                ax.plot(xs, ys, linewidth=1.2, label=" " + label if label.startswith("_") else label)
                drawn += 1
        if drawn:
            with_data += 1
            ax.yaxis.set_major_formatter(formatter(unit))
            if drawn <= 8:
                ax.legend(fontsize=6.5, loc="upper left", frameon=False)
        else:
            ax.text(0.5, 0.5, "no data in this range", ha="center", va="center", fontsize=8.5, color="0.45", transform=ax.transAxes)
            ax.set_yticks([])
        ax.set_xlim(-args.minutes, 0)
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.3)
        ax.set_xlabel("minutes ago", fontsize=7)
    for j in range(len(panels), rows * cols):
        axes[j // cols][j % cols].axis("off")
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(end))
    fig.suptitle(f"{dash['title']}: the last {args.minutes:g} minutes at {stamp}, from Prometheus (hack/dashboard-png.py)", fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(args.out, dpi=80, metadata={"Software": None})
    print(f"dashboard-png: {args.out}: {len(panels)} panels, {with_data} with data")
    if args.require_data and with_data == 0:
        sys.exit(1)


if __name__ == "__main__":
    main()
