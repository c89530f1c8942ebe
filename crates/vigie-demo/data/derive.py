#!/usr/bin/env python3
"""Derives the compact Windows update tables embedded by vigie-demo.

    python3 crates/vigie-demo/data/derive.py /work/shared/data/patches
"""
import csv
import json
import sys
from pathlib import Path

# NT 10 builds the demo fleet runs (client and server).
BUILDS = {14393, 17763, 19044, 19045, 20348, 22621, 22631, 26100}
LEGACY_FAMILIES = {"win7_2008r2", "win81_2012r2"}
LEGACY_KINDS = {"monthly_rollup", "esu_monthly", "security_only", "esu_security_only"}


def main(src):
    src = Path(src)
    out = Path(__file__).resolve().parent
    hist = json.load(open(src / "windows-update-history.json", encoding="utf-8"))["data"]
    rows = set()
    for r in hist:
        n = r["full_version"].split(".")
        if len(n) != 4 or int(n[2]) not in BUILDS:
            continue
        if r.get("release_type") not in ("Standard", "Out-of-band"):
            continue
        rows.add((int(n[2]), int(n[3]), r["release_date"], r.get("kb_article") or "",
                  r["os_type"], r["release_type"]))
    with open(out / "windows-builds.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["build", "ubr", "release_date", "kb", "os_type", "release_type"])
        w.writerows(sorted(rows))
    print("windows-builds.csv", len(rows))

    legacy = json.load(open(src / "windows-legacy-rollups.json", encoding="utf-8"))["entries"]
    rows = set()
    for e in legacy:
        if e["os_family"] in LEGACY_FAMILIES and e["kind"] in LEGACY_KINDS:
            rows.add((e["os_family"], e["kb"], e["kind"], e["release_date"]))
    with open(out / "legacy-kbs.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["family", "kb", "kind", "release_date"])
        w.writerows(sorted(rows, key=lambda r: (r[0], r[3], r[1])))
    print("legacy-kbs.csv", len(rows))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/patches")
