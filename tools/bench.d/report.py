#!/usr/bin/env python3
"""Formats tools/bench's results.

    report.py table RESULTS WORKLOAD    one workload: a row per target
    report.py summary RESULTS           every metric: ratio to native per target
    report.py json RESULTS OUT [KEY=VALUE...]   all figures as JSON into OUT

RESULTS is a TSV written by tools/bench, one line per figure:
    workload target metric unit better value
better is "hi" (a rate) or "lo" (a latency or a duration); a failed workload
is a line with metric "-" and value "FAIL". Targets and metrics are listed in
the order they first appear. Ratios are oriented so higher is always better:
target/native for "hi", native/target for "lo".
"""
import json
import sys


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            wl, target, metric, unit, better, value = line.rstrip("\n").split("\t")
            rows.append(dict(workload=wl, target=target, metric=metric, unit=unit,
                             better=better, value=None if value == "FAIL" else float(value)))
    return rows


def ordered(rows, key):
    return list(dict.fromkeys(r[key] for r in rows))


def ratio(rows, r):
    base = next((n for n in rows if n["target"] == "native" and n["metric"] == r["metric"]), None)
    if base is None or not base["value"] or not r["value"]:
        return None  # no reference, a failure or a zero
    return r["value"] / base["value"] if r["better"] == "hi" else base["value"] / r["value"]


def fmt(v):
    if v is None:
        return "-"
    return "%.0f" % v if v >= 100 else "%.1f" % v if v >= 10 else "%.2f" % v


def table(rows, workload):
    mine = [r for r in rows if r["workload"] == workload]
    targets = ordered(rows, "target")
    metrics = [m for m in ordered(mine, "metric") if m != "-"]
    units = {r["metric"]: r["unit"] for r in mine}
    titles = [units[m] if m == workload else "%s %s" % (m, units[m]) for m in metrics]
    print("%-16s" % workload + "".join("%16s %6s" % (title, "ratio") for title in titles))
    for t in targets:
        cells = {r["metric"]: r for r in mine if r["target"] == t}
        if "-" in cells:
            print("  %-14s  FAILED (see the log above)" % t)
            continue
        figures = [(fmt(cells[m]["value"]), fmt(ratio(rows, cells[m]))) if m in cells else ("-", "-")
                   for m in metrics]
        print("  %-14s" % t + "".join("%16s %6s" % f for f in figures))
    print()


def summary(rows):
    others = [t for t in ordered(rows, "target") if t != "native"]
    if not others:
        print("summary: only native ran, nothing to compare")
        return
    print("summary (ratio to native, higher is better)")
    widths = [max(10, len(t) + 2) for t in others]
    print(("%-14s" % "workload" + "".join(t.ljust(w) for t, w in zip(others, widths))).rstrip())
    for m in ordered([r for r in rows if r["metric"] != "-"], "metric"):
        cells = {r["target"]: r for r in rows if r["metric"] == m}
        ratios = [fmt(ratio(rows, cells[t])) if t in cells else "FAIL" for t in others]
        print(("%-14s" % m + "".join(x.ljust(w) for x, w in zip(ratios, widths))).rstrip())


def to_json(rows, out, config):
    doc = {"config": config, "targets": ordered(rows, "target"), "results": {}, "failed": {}}
    for r in rows:
        if r["metric"] == "-":
            doc["failed"].setdefault(r["target"], []).append(r["workload"])
            continue
        doc["results"].setdefault(r["target"], {})[r["metric"]] = {
            "workload": r["workload"], "value": r["value"], "unit": r["unit"],
            "higher_is_better": r["better"] == "hi", "ratio_to_native": ratio(rows, r)}
    with open(out, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")


def main():
    mode, rows = sys.argv[1], load(sys.argv[2])
    if mode == "table":
        table(rows, sys.argv[3])
    elif mode == "summary":
        summary(rows)
    elif mode == "json":
        config = dict(a.split("=", 1) for a in sys.argv[4:])
        config = {k: int(v) if v.isdigit() else v for k, v in config.items()}
        to_json(rows, sys.argv[3], config)
    else:
        sys.exit("report.py: unknown mode %r" % mode)


if __name__ == "__main__":
    main()
