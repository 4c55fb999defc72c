#!/usr/bin/env python3
"""Benchmarks/peers/report.py META RAW STEM: the report of a Benchmarks/peers/run.

META: key=value lines (machine, versions, sizes, section times).
RAW:  tab-separated records "section server figure unit value", one per repetition
      (value FAIL when the figure could not be taken; storm: value is a pxe-sim JSON file).
Writes STEM.md (tables: median of the repetitions, ratio bootd / best peer), STEM.json
(meta, every raw value, the medians) and STEM.svg (bar chart of the ratios).
"""
import json
import statistics
import sys
from collections import OrderedDict

meta_path, raw_path, stem = sys.argv[1:4]
meta = OrderedDict()
for line in open(meta_path):
    if "=" in line:
        k, v = line.rstrip("\n").split("=", 1)
        meta[k] = v

raw = OrderedDict()   # (section, figure, unit) -> server -> [values]
storm = []            # (server, figure, json)
skipped = []
for line in open(raw_path):
    parts = line.rstrip("\n").split("\t")
    if len(parts) != 5:
        continue
    sec, srv, fig, unit, val = parts
    if sec == "storm":
        if unit == "json":
            try:
                storm.append((srv, fig, json.load(open(val))))
            except (OSError, ValueError):
                pass
        else:
            skipped.append(f"storm: {val}")
        continue
    raw.setdefault((sec, fig, unit), OrderedDict()).setdefault(srv, []).append(val)

LOWER_IS_BETTER = {"MiB", "CPU ms/1000"}  # memory, server CPU per DHCP exchange


def median(vals):
    nums = [float(v) for v in vals if v != "FAIL"]
    if not nums or len(nums) < len(vals):
        return None
    return statistics.median(nums)


def fmt(x, unit):
    if x is None:
        return "FAIL"
    if unit == "fraction":
        return f"{x * 100:.2f} %"
    if unit in ("datagrams", "calls"):
        return f"{x:,.0f}"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:.1f}" if abs(x) >= 10 else f"{x:.2f}"


medians = OrderedDict()
for (sec, fig, unit), by in raw.items():
    medians[(sec, fig, unit)] = OrderedDict((s, median(v)) for s, v in by.items())


def ours(server):
    """bootd and its variants (e.g. "bootd busy_poll 50"): not peers."""
    return server == "bootd" or server.startswith("bootd ")


def ratio(by, unit, subject="bootd"):
    """subject / best peer; for memory (lower is better) subject / lowest peer."""
    b = by.get(subject)
    peers = [v for s, v in by.items() if not ours(s) and v is not None]
    if b is None or not peers:
        return None, None
    best = min(peers) if unit in LOWER_IS_BETTER else max(peers)
    if best == 0:
        return None, None
    name = [s for s, v in by.items() if not ours(s) and v == best][0]
    return b / best, name


md = []
md.append(f"# bootd vs peers — {meta.get('date', '')} on {meta.get('host', '')}")
md.append("")
md.append(f"Machine: {meta.get('nproc')} CPUs, {meta.get('cpu')}, kernel {meta.get('kernel')}, {meta.get('os')}. "
          f"Server pinned to CPU 1, clients to CPU 0, in two network namespaces joined by a veth pair.")
md.append("")
md.append(f"bootd: `{meta.get('bootd')}`. Peers: {meta.get('versions')}.")
md.append("")
md.append(f"Sizes: {meta.get('sizes')}. Each figure is the median of {meta.get('reps')} runs"
          + (" (smoke run: sizes too small to mean anything)." if meta.get("smoke") == "1" else "."))
md.append("")
md.append("Ratio: bootd ÷ the best peer (higher is better for bootd, except memory, where it is bootd ÷ the "
          "smallest peer and lower is better).")
chart = []  # (label, ratio)


def table(sec, title, note=None):
    rows = [(k, v) for k, v in medians.items() if k[0] == sec]
    if not rows:
        return
    servers = []
    for _, by in rows:
        for s in by:
            if s not in servers and s != "-":
                servers.append(s)
    md.append("")
    md.append(f"## {title}")
    md.append("")
    if note:
        md.append(note)
        md.append("")
    variants = [s for s in servers if ours(s) and s != "bootd"]
    md.append("| figure | unit | " + " | ".join(servers) + " | bootd ÷ best peer |"
              + "".join(f" {v} ÷ best peer |" for v in variants))
    md.append("|---|---|" + "---|" * len(servers) + "---|" + "---|" * len(variants))
    for (_, fig, unit), by in rows:
        r, best = ratio(by, unit) if unit not in ("count", "calls") else (None, None)
        cells = [fmt(by.get(s), unit) if s in by else "–" for s in servers]
        rtxt = f"{r:.2f} ({best})" if r is not None else "–"
        vtxt = ""
        for v in variants:
            rv, bv = ratio(by, unit, v) if unit not in ("count", "calls") else (None, None)
            vtxt += f" {rv:.2f} ({bv}) |" if rv is not None else " – |"
            if rv is not None and unit not in ("fraction", "count", "calls"):
                chart.append((f"{sec}: {fig} ({unit}), {v}", rv, unit in LOWER_IS_BETTER))
        md.append(f"| {fig} | {unit} | " + " | ".join(cells) + f" | {rtxt} |" + vtxt)
        if r is not None and unit not in ("fraction", "count", "calls"):
            chart.append((f"{sec}: {fig} ({unit})", r, unit in LOWER_IS_BETTER))


table("tftp", "TFTP throughput (MiB/s, one client at a time)",
      "bootd runs its default configuration (`[tftpd] busy_poll = 50`: after each block it polls up to 50 µs "
      "for the ACK instead of sleeping); `bootd busy_poll 0` is the same with the polling off. "
      "Lock-step transfers are bound by the round trip, most of which is waking an idle CPU on each side.")

# DHCP: the rate ladder, then the two summary figures per server
dhcp = [(k, v) for k, v in medians.items() if k[0] == "dhcp"]
if dhcp:
    servers = []
    for _, by in dhcp:
        for s in by:
            if s not in servers:
                servers.append(s)
    rates = sorted({int(k[1].split()[1]) for k, _ in dhcp if k[1].startswith("rate ")})
    summary = OrderedDict()
    for s in servers:
        ok = [r for r in rates if (medians.get(("dhcp", f"rate {r} drops", "fraction"), {}).get(s) is not None
                                   and medians[("dhcp", f"rate {r} drops", "fraction")][s] < 0.01)]
        # the overload figure is at 20,000/s offered; the ladder may go past it
        top = 20000 if 20000 in rates else (max(rates) if rates else None)
        summary[s] = {
            "highest offered rate with < 1% drops": float(max(ok)) if ok else 0.0,
            f"achieved at {top}/s offered": medians.get(("dhcp", f"rate {top} achieved", "exchanges/s"), {}).get(s),
        }
    # Server CPU per exchange at the highest rate every server that reached it served with
    # < 1% drops: what the server itself spends, whatever limits the load generator.
    cpu_rate = None
    for r_ in rates:
        d = medians.get(("dhcp", f"rate {r_} drops", "fraction"), {})
        c = medians.get(("dhcp", f"rate {r_} server CPU", "CPU ms/1000"), {})
        measured = [s for s in servers if d.get(s) is not None and c.get(s) is not None]
        if "bootd" in measured and len(measured) >= 2 and all(d[s] < 0.01 for s in measured):
            cpu_rate = r_
    md.append("")
    md.append("## DHCP (perfdhcp, 4-way exchanges, new clients, durable leases)")
    md.append("")
    md.append("bootd journals each lease and fdatasyncs it before its ACK leaves, one sync per burst of requests (group commit: one per lease when they come one at a time, as in the strace line); dnsmasq rewrites its lease file; "
              "kea-dhcp4 memfile appends to its CSV lease file without fsync. A rate that is not listed for "
              "a server was skipped because a lower rate already lost 1% or more. perfdhcp runs single-threaded (`-g single`) "
              "on one CPU; near 20,000/s it uses all of that CPU, so past some rate the figures measure perfdhcp as "
              "much as the server. The \"lost in … socket\" rows say where the lost datagrams went: the kernel's "
              "receive-buffer drops (RcvbufErrors) in the server's namespace and in perfdhcp's. Server CPU is the "
              "server process's user + system time during the run, per 1000 offered exchanges.")
    md.append("")
    md.append("| figure | unit | " + " | ".join(servers) + " | bootd ÷ best peer |")
    md.append("|---|---|" + "---|" * len(servers) + "---|")
    for fig in (list(summary[servers[0]].keys()) if servers else []):
        by = OrderedDict((s, summary[s][fig]) for s in servers)
        r, best = ratio(by, "exchanges/s")
        md.append(f"| **{fig}** | exchanges/s | "
                  + " | ".join(("< " + str(min(rates))) if (fig.startswith("highest") and by[s] == 0) else fmt(by[s], "x")
                               for s in servers)
                  + f" | {f'{r:.2f} ({best})' if r is not None else '–'} |")
        if r is not None:
            chart.append((f"dhcp: {fig}", r, False))
        medians[("dhcp", fig, "exchanges/s")] = by
    if cpu_rate is not None:
        by = medians[("dhcp", f"rate {cpu_rate} server CPU", "CPU ms/1000")]
        by = OrderedDict((s, by.get(s)) for s in servers if by.get(s) is not None)
        r, best = ratio(by, "CPU ms/1000")
        fig = f"server CPU per 1000 exchanges at {cpu_rate}/s offered"
        md.append(f"| **{fig}** (lower is better) | CPU ms | "
                  + " | ".join(fmt(by[s], "x") if s in by else "–" for s in servers)
                  + f" | {f'{r:.2f} ({best})' if r is not None else '–'} |")
        if r is not None:
            chart.append((f"dhcp: {fig}", r, True))
    for r_ in rates:
        for kind, unit in (("achieved", "exchanges/s"), ("drops", "fraction"), ("server CPU", "CPU ms/1000"),
                           ("lost in server socket", "datagrams"), ("lost in perfdhcp socket", "datagrams")):
            if not medians.get(("dhcp", f"rate {r_} {kind}", unit)):
                continue
            by = medians.get(("dhcp", f"rate {r_} {kind}", unit), {})
            md.append(f"| offered {r_}/s: {kind} | {unit} | "
                      + " | ".join(fmt(by[s], unit) if s in by else "–" for s in servers) + " | |")
    by = medians.get(("dhcp", "fsync calls per 200 leases", "calls"))
    if by:
        md.append(f"| fsync/fdatasync calls for 200 leases (strace) | calls | "
                  + " | ".join(fmt(by.get(s), "calls") if s in by else "–" for s in servers) + " | |")

table("http", "HTTP",
      "bootd's own HTTP server (`-H`) vs nginx with `sendfile on` and `worker_processes 1` (one worker: "
      "the server side has one core, as every server here has).")
table("memory", "Memory (VmHWM, bootd vs dnsmasq doing the same DHCP + TFTP work)")

md.append("")
md.append("## Boot storm (pxe-sim --target)")
md.append("")
if storm:
    # One line per clients x server: the median run by wall time, and the range.
    groups = {}
    for srv, fig, j in storm:
        groups.setdefault((int(j.get("clients") or 0), srv), []).append(j)
    md.append("Median of each server's runs (by wall time), then every run.")
    md.append("")
    md.append("| clients | server | runs | booted (min-max) | wall s, median (min-max) | DHCP p99 s, median | TFTP p99 s, median | retransmissions (min-max) |")
    md.append("|---|---|---|---|---|---|---|---|")
    for (n, srv), js in groups.items():
        walls = sorted(float(j.get("wallSeconds") or 0) for j in js)
        med = statistics.median(walls)
        booted = [j.get("booted") or 0 for j in js]
        rt = [j.get("retransmissions") or 0 for j in js]
        p99 = lambda k: statistics.median(float((j.get(k) or {}).get("p99") or 0) for j in js)
        md.append(f"| {n} | {srv} | {len(js)} | {min(booted)}-{max(booted)} | {med:.2f} ({walls[0]:.2f}-{walls[-1]:.2f}) | "
                  f"{p99('dhcp'):.3f} | {p99('tftp'):.3f} | {min(rt)}-{max(rt)} |")
    md.append("")
    md.append("| clients | server | booted | failed | wall s | DHCP p50/p99 s | TFTP p50/p99 s | retransmissions |")
    md.append("|---|---|---|---|---|---|---|---|")
    for srv, fig, j in storm:
        d, t = j.get("dhcp", {}), j.get("tftp", {})
        md.append(f"| {j.get('clients', fig)} | {srv} | {j.get('booted')} | {j.get('failed')} | {j.get('wallSeconds')} | "
                  f"{d.get('p50')}/{d.get('p99')} | {t.get('p50')}/{t.get('p99')} | {j.get('retransmissions')} |")
elif skipped:
    md.append("Skipped: " + "; ".join(sorted(set(skipped))) + ".")
else:
    md.append("Not run.")

times = {k[5:]: v for k, v in meta.items() if k.startswith("time_")}
if times:
    md.append("")
    md.append("Wall time: " + ", ".join(f"{k} {float(v):.0f} s" for k, v in times.items()) + ".")
open(stem + ".md", "w").write("\n".join(md) + "\n")

out = {
    "meta": meta,
    "raw": [{"section": k[0], "figure": k[1], "unit": k[2], "server": s, "values": v}
            for k, by in raw.items() for s, v in by.items()],
    "medians": [{"section": k[0], "figure": k[1], "unit": k[2], "values": dict(by)} for k, by in medians.items()],
    "ratios": [{"figure": lbl, "bootd_over_best_peer": r, "lower_is_better": low} for lbl, r, low in chart],
    "storm": [{"server": s, "figure": f, "result": j} for s, f, j in storm],
}
json.dump(out, open(stem + ".json", "w"), indent=1)

# SVG: one horizontal bar per figure, bootd / best peer on a log scale, 1.0 marked
import math
W, left, right, bh, gap, top = 980, 430, 40, 16, 6, 50
H = top + len(chart) * (bh + gap) + 40
lo, hi = 1 / 16, 16


def xpos(r):
    r = min(max(r, lo), hi)
    return left + (math.log(r) - math.log(lo)) / (math.log(hi) - math.log(lo)) * (W - left - right)


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<text x="10" y="20" font-size="15" font-weight="bold">{esc("bootd ÷ best peer — " + meta.get("date", "") + ", " + meta.get("host", ""))}</text>',
       f'<text x="10" y="38" fill="#555">log scale; right of the line: bootd ahead (memory: inverted, so right is still better for bootd)</text>']
for tick in (1 / 16, 1 / 8, 1 / 4, 1 / 2, 1, 2, 4, 8, 16):
    x = xpos(tick)
    svg.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{H - 30}" stroke="{"#000" if tick == 1 else "#ddd"}"/>')
    lab = f"{tick:g}" if tick >= 1 else f"1/{1 / tick:g}"
    svg.append(f'<text x="{x:.1f}" y="{H - 14}" text-anchor="middle" fill="#555">{lab}</text>')
for i, (lbl, r, low) in enumerate(chart):
    y = top + i * (bh + gap)
    shown = 1 / r if low else r
    x0, x1 = sorted((xpos(1), xpos(shown)))
    color = "#2a7" if shown >= 1 else "#d54"
    svg.append(f'<text x="{left - 8}" y="{y + bh - 4}" text-anchor="end">{esc(lbl)}</text>')
    svg.append(f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 1):.1f}" height="{bh}" fill="{color}"/>')
    svg.append(f'<text x="{xpos(shown) + (4 if shown >= 1 else -4):.1f}" y="{y + bh - 4}" '
               f'text-anchor="{"start" if shown >= 1 else "end"}" font-size="11">{r:.2f}</text>')
svg.append("</svg>")
open(stem + ".svg", "w").write("\n".join(svg) + "\n")
