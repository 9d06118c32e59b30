#!/usr/bin/env python3
"""Sums an ncu --csv --page raw file (scripts/gpu/profile_decode.sh) per kernel: count, total and mean
gpu__time_duration, and the share of the whole. Usage: ncu_summary.py ncu.csv [steps]"""
import csv
import sys
from collections import defaultdict

path = sys.argv[1]
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 1
lines = [l for l in open(path, encoding="utf-8", errors="replace") if l.startswith('"')]
rows = list(csv.reader(lines))
head, units, data = rows[0], rows[1], rows[2:]
name_i, dur_i, grid_i = head.index("Kernel Name"), head.index("gpu__time_duration.sum"), head.index("Grid Size")
scale = {"nsecond": 1e-3, "ns": 1e-3, "usecond": 1.0, "us": 1.0, "msecond": 1e3, "ms": 1e3}[units[dur_i]]
agg = defaultdict(lambda: [0, 0.0, set()])
total = 0.0
for r in data:
    name = r[name_i].split("(")[0].split("<")[0].strip()
    us = float(r[dur_i].replace(",", "")) * scale
    a = agg[name]
    a[0] += 1
    a[1] += us
    a[2].add(r[grid_i])
    total += us
print(f"{len(data)} kernels, {total:.1f} us in all, {total / steps:.1f} us per step ({steps} steps)")
print("| kernel | launches per step | us per step | mean us | share | grids |\n|---|---:|---:|---:|---:|---|")
for name, (n, us, grids) in sorted(agg.items(), key=lambda kv: -kv[1][1]):
    g = ", ".join(sorted(grids)[:4]) + (" ..." if len(grids) > 4 else "")
    print(f"| {name[:60]} | {n / steps:.1f} | {us / steps:.1f} | {us / n:.2f} | {100 * us / total:.1f}% | {g} |")
