#!/usr/bin/env python3
"""Formats tools/bench's results.

    report.py table RESULTS WORKLOAD    one workload: a row per target
    report.py summary RESULTS           every metric: ratio to native per target;
                                        the catch-up times; mirrorfs-sync-disk
                                        against glusterfs
    report.py section SECTIONS NAME TITLE   the figures of one section (queue,
                                        recovery): a row per case, a column per metric
    report.py json RESULTS OUT [--sections SECTIONS] [KEY=VALUE...]
                                        all figures as JSON into OUT

RESULTS is a TSV written by tools/bench, one line per figure:
    workload target metric unit better value
better is "hi" (a rate), "lo" (a latency or a duration) or "raw" (a figure
with no ratio to native: the catch-up time of an async mirror, whose value
may be ">N" when it passed the deadline of N seconds); a failed workload is a
line with metric "-" and value "FAIL". Targets and metrics are listed in the
order they first appear, raw metrics last. Ratios are oriented so higher is
always better: target/native for "hi", native/target for "lo".

SECTIONS is a TSV of the measures that are not workloads, one line per figure:
    section row metric unit value
value is a number or a text ("-" when unknown); a failed row is a line with
metric "-" and value "FAIL". A metric "M bound" (value "B" or "A-B") bounds the
metric M of the same row: the table marks M with "*" when it is above B or below A.
"""
import json
import sys

CATCH_UP_AIM = 2.0  # seconds: the project's aim for an async copy to catch up
# The "vs glusterfs" section: mirrorfs's target against glusterfs, on these metrics.
VERSUS = ("mirrorfs-sync-disk", "glusterfs", ("seq-write", "untar", "create"))


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            wl, target, metric, unit, better, value = line.rstrip("\n").split("\t")
            over = value.startswith(">")
            rows.append(dict(workload=wl, target=target, metric=metric, unit=unit,
                             better=better, text=value, over=over,
                             value=None if value == "FAIL" or over else float(value)))
    return pair_with_native(rows)


def pair_with_native(rows):
    """With --paired, native ran again before each target: each target's base is
    the native figure recorded last before it, and native's runs become one
    row, their median (with "runs" saying how many)."""
    last, runs, merged = {}, {}, []
    for r in rows:
        if r["target"] == "native" and r["metric"] != "-":
            last[r["metric"]] = r["value"]
            if r["metric"] in runs:
                runs[r["metric"]].append(r)
                continue
            runs[r["metric"]] = [r]
        elif r["metric"] in last:
            r["base"] = last[r["metric"]]
        merged.append(r)
    for group in runs.values():
        if len(group) > 1:
            values = sorted(g["value"] for g in group if g["value"] is not None)
            if values:
                group[0]["value"] = values[len(values) // 2]
                group[0]["text"] = str(group[0]["value"])
            group[0]["runs"] = len(group)
    return merged


def ordered(rows, key):
    return list(dict.fromkeys(r[key] for r in rows))


def ratio_of(better, value, base):
    if not base or not value:
        return None  # a failure or a zero
    return value / base if better == "hi" else base / value


def ratio(rows, r):
    if r["better"] == "raw":
        return None
    if "base" in r:
        return ratio_of(r["better"], r["value"], r["base"])
    base = next((n for n in rows if n["target"] == "native" and n["metric"] == r["metric"]), None)
    return ratio_of(r["better"], r["value"], base and base["value"])


def fmt(v):
    if v is None:
        return "-"
    return "%.0f" % v if v >= 100 else "%.1f" % v if v >= 10 else "%.2f" % v if v >= 0.1 \
        else "%.3f" % v


def shown(r):
    """A raw figure as shown: its value, or ">N" past the deadline."""
    return r["text"] if r["over"] else fmt(r["value"])


def short(target):
    return target[len("mirrorfs-"):] if target.startswith("mirrorfs-") else target


def table(rows, workload):
    mine = [r for r in rows if r["workload"] == workload]
    targets = ordered(rows, "target")
    metrics = [m for m in ordered(mine, "metric") if m != "-"]
    raw = {r["metric"] for r in mine if r["better"] == "raw"}
    metrics = [m for m in metrics if m not in raw] + [m for m in metrics if m in raw]
    units = {r["metric"]: r["unit"] for r in mine}
    titles = [units[m] if m == workload else "%s %s" % (m, units[m]) for m in metrics]
    print(("%-21s" % workload
          + "".join("%15s %6s" % (t, "" if m in raw else "ratio") for t, m in zip(titles, metrics))).rstrip())
    for t in targets:
        cells = {r["metric"]: r for r in mine if r["target"] == t}
        if "-" in cells:
            print("  %-20s  FAILED (see the log above)" % t)
            continue
        figures = []
        for m in metrics:
            if m not in cells:
                figures.append(("-", "" if m in raw else "-"))
            elif m in raw:
                figures.append((shown(cells[m]), ""))
            else:
                figures.append((fmt(cells[m]["value"]), fmt(ratio(rows, cells[m]))))
        print(("  %-20s" % t + "".join("%15s %6s" % f for f in figures)).rstrip())
    runs = max((r.get("runs", 1) for r in mine if r["target"] == "native"), default=1)
    if runs > 1:
        print("  (native: median of %d runs; each target's ratio is to the native run just"
              " before it)" % runs)
    print()


def columns(head, names, lines):
    """Prints a block: a header row, then rows of cells, left-aligned in columns."""
    widths = [max([10, len(n) + 2] + [len(cells[i]) + 2 for _, cells in lines])
              for i, n in enumerate(names)]
    print(("%-14s" % head + "".join(n.ljust(w) for n, w in zip(names, widths))).rstrip())
    for first, cells in lines:
        print(("%-14s" % first + "".join(c.ljust(w) for c, w in zip(cells, widths))).rstrip())


def summary(rows):
    others = [t for t in ordered(rows, "target") if t != "native"]
    if not others:
        print("summary: only native ran, nothing to compare")
        return
    print("summary (ratio to native, higher is better)")
    lines = []
    for m in ordered([r for r in rows if r["metric"] != "-" and r["better"] != "raw"], "metric"):
        cells = {r["target"]: r for r in rows if r["metric"] == m}
        lines.append((m, [fmt(ratio(rows, cells[t])) if t in cells else "FAIL" for t in others]))
    columns("workload", [short(t) for t in others], lines)

    late = [r for r in rows if r["metric"] == "catch-up"]
    if late:
        targets = ordered(late, "target")
        over = False
        lines = []
        for wl in ordered(late, "workload"):
            cells = {r["target"]: r for r in late if r["workload"] == wl}
            texts = []
            for t in targets:
                if t not in cells:
                    texts.append("FAIL")
                    continue
                r = cells[t]
                slow = r["over"] or r["value"] > CATCH_UP_AIM
                over = over or slow
                texts.append(shown(r) + (" *" if slow else ""))
            lines.append((wl, texts))
        print()
        print("catch-up s (async: until the copy equals the backing directory; aim <= %g s)"
              % CATCH_UP_AIM)
        columns("workload", [short(t) for t in targets], lines)
        if over:
            print("* over the aim of %g s" % CATCH_UP_AIM)

    mine, theirs, metrics = VERSUS
    figures = {(r["target"], r["metric"]): r for r in rows
               if r["target"] in (mine, theirs) and r["metric"] in metrics}
    if any((mine, m) in figures for m in metrics) and any((theirs, m) in figures for m in metrics):
        print()
        print("vs glusterfs (both keep two copies on this disk, synchronously; "
              "ratio > 1: %s is faster)" % short(mine))
        lines = []
        for m in metrics:
            a, b = figures.get((mine, m)), figures.get((theirs, m))
            value = lambda r: "FAIL" if r is None or r["value"] is None else \
                "%s %s" % (fmt(r["value"]), r["unit"])
            r = a or b
            versus = r and ratio_of(r["better"], a and a["value"], b and b["value"])
            lines.append((m, [value(a), value(b), fmt(versus)]))
        columns("workload", [short(mine), theirs, "ratio"], lines)


def load_sections(path):
    figures = []
    with open(path) as f:
        for line in f:
            section, row, metric, unit, value = line.rstrip("\n").split("\t")
            figures.append(dict(section=section, row=row, metric=metric, unit=unit, text=value))
    return figures


def number(text):
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return None


def outside(bound, text):
    """Whether the figure `text` lies outside `bound` ("B": at most B; "A-B")."""
    value = number(text)
    low, _, high = bound.rpartition("-")
    if value is None or number(high) is None:
        return False
    return value > number(high) or (low != "" and number(low) is not None and value < number(low))


def section(figures, name, title):
    mine = [f for f in figures if f["section"] == name]
    metrics = [m for m in ordered(mine, "metric") if m != "-"]
    units = {f["metric"]: f["unit"] for f in mine}
    heads = [m + (" " + units[m] if units[m] else "") for m in metrics]
    rows = ordered(mine, "row")
    cells = {(f["row"], f["metric"]): f["text"] for f in mine}
    out = {(r, m) for r in rows for m in metrics
           if (r, m + " bound") in cells and outside(cells[r, m + " bound"], cells.get((r, m), "-"))}
    marked_metrics = {m for _, m in out}
    shown = {(r, m): cells.get((r, m), "-") + (" *" if (r, m) in out else
                                                "  " if m in marked_metrics else "")
             for r in rows for m in metrics}
    marked = bool(out)
    first = max([16] + [len(r) + 4 for r in rows])
    widths = [max([len(h)] + [len(shown[r, m]) for r in rows]) + 2 for h, m in zip(heads, metrics)]
    print(title)
    print(("%-*s" % (first, "") + "".join(h.rjust(w) for h, w in zip(heads, widths))).rstrip())
    for r in rows:
        if (r, "-") in cells:
            print("  %-*s  FAILED (see the log above)" % (first - 2, r))
            continue
        print(("  %-*s" % (first - 2, r)
               + "".join(shown[r, m].rjust(w) for m, w in zip(metrics, widths))).rstrip())
    if marked:
        print("  * outside its bound")


def sections_json(figures):
    doc = {}
    for f in figures:
        rows = doc.setdefault(f["section"], {})
        if f["metric"] == "-":
            rows[f["row"]] = {"failed": True}
            continue
        value = number(f["text"])
        rows.setdefault(f["row"], {})[f["metric"]] = {
            "value": f["text"] if value is None else value, "unit": f["unit"]}
    return doc


def to_json(rows, out, config, figures=()):
    doc = {"config": config, "targets": ordered(rows, "target"), "results": {}, "failed": {}}
    if figures:
        doc["sections"] = sections_json(figures)
    for r in rows:
        if r["metric"] == "-":
            doc["failed"].setdefault(r["target"], []).append(r["workload"])
            continue
        key = r["metric"] if r["better"] != "raw" else "%s %s" % (r["workload"], r["metric"])
        doc["results"].setdefault(r["target"], {})[key] = {
            "workload": r["workload"], "value": r["value"], "unit": r["unit"],
            "higher_is_better": r["better"] == "hi", "ratio_to_native": ratio(rows, r)}
        if r["over"]:
            doc["results"][r["target"]][key]["over_deadline"] = True
    with open(out, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")


def main():
    mode = sys.argv[1]
    rows = load(sys.argv[2]) if mode != "section" else []
    if mode == "table":
        table(rows, sys.argv[3])
    elif mode == "summary":
        summary(rows)
    elif mode == "section":
        section(load_sections(sys.argv[2]), sys.argv[3], sys.argv[4])
    elif mode == "json":
        args, figures = sys.argv[4:], []
        if args[:1] == ["--sections"]:
            figures, args = load_sections(args[1]), args[2:]
        config = dict(a.split("=", 1) for a in args)
        config = {k: int(v) if v.isdigit() else v for k, v in config.items()}
        to_json(rows, sys.argv[3], config, figures)
    else:
        sys.exit("report.py: unknown mode %r" % mode)


if __name__ == "__main__":
    main()
