#!/usr/bin/env python3
"""kendall-tau.py — Kendall's τ-b between two columns of a `flatsweep export` CSV.

    scripts/kendall-tau.py TRIALS.csv X Y [--by COLUMN]

Reads the trials whose status is "ok" and prints τ-b of columns X and Y over
them (and, with --by, within each value of COLUMN), with the number of trials.
`flatsweep analyze` scores every measure against the gap and the test
accuracy; this covers any other pair of exported columns, e.g. the log
evidence against the test cross-entropy:

    flatsweep export occam-evidence --db occam.db --out occam.csv
    scripts/kendall-tau.py occam.csv log_evidence test_loss --by batch_size

τ-b = (C − D) / sqrt((C + D + T_x)(C + D + T_y)) over the pairs of trials, with
C concordant and D discordant pairs and T_x (T_y) the pairs tied in X only
(Y only); pairs tied in both count in neither. Standard library only.
"""

import argparse
import csv
import math
import sys


def tau_b(x, y):
    """Kendall's τ-b of two equally long sequences of numbers (nan if undefined)."""
    c = d = tx = ty = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            a = (x[i] > x[j]) - (x[i] < x[j])
            b = (y[i] > y[j]) - (y[i] < y[j])
            if a == 0 and b == 0:
                continue
            if a == 0:
                tx += 1
            elif b == 0:
                ty += 1
            elif a * b > 0:
                c += 1
            else:
                d += 1
    den = math.sqrt((c + d + tx) * (c + d + ty))
    return (c - d) / den if den > 0 else math.nan


def main():
    p = argparse.ArgumentParser(description="Kendall's τ-b between two columns of a flatsweep export CSV")
    p.add_argument("csv")
    p.add_argument("x")
    p.add_argument("y")
    p.add_argument("--by", help="also give τ-b within each value of this column")
    a = p.parse_args()
    with open(a.csv, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("status") == "ok"]
    for col in [a.x, a.y] + ([a.by] if a.by else []):
        if rows and col not in rows[0]:
            print(f"kendall-tau.py: {a.csv} has no column {col!r}", file=sys.stderr)
            sys.exit(2)
    groups = [("all", rows)]
    if a.by:
        for v in sorted({r[a.by] for r in rows}, key=lambda s: (len(s), s)):
            groups.append((f"{a.by}={v}", [r for r in rows if r[a.by] == v]))
    for name, rs in groups:
        pairs = [(float(r[a.x]), float(r[a.y])) for r in rs if r[a.x] != "" and r[a.y] != ""]
        t = tau_b([u for u, _ in pairs], [v for _, v in pairs])
        print(f"{name}\ttrials {len(pairs)}\ttau_b({a.x}, {a.y}) = {t:.4f}")


if __name__ == "__main__":
    main()
