#!/usr/bin/env python3
"""Rebuilds the compact derived files of vigie's embedded knowledge base.

Usage: python3 data/derive.py SHARED_DATA [KEV_2025_FIXTURE_OUT]
   e.g. python3 data/derive.py ../shared/data crates/vigie-kb/tests/data/kev-2025.08.25.min.json

Only fields the `vigie-kb` crate reads are kept; values are copied unchanged.
The outputs keep the shape of their source so the same parser reads the
bundled copy and a full upstream file given to `KnowledgeBase::load_update`.
"""
import datetime
import json
import os
import sys

src = sys.argv[1] if len(sys.argv) > 1 else "../shared/data"
here = os.path.dirname(os.path.abspath(__file__))


def dump(obj, path):
    with open(os.path.join(here, path), "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


KEV_FIELDS = ["cveID", "vendorProject", "product", "vulnerabilityName", "dateAdded", "dueDate",
              "knownRansomwareCampaignUse"]


def trim_kev(path, out):
    with open(os.path.join(src, path), encoding="utf-8") as f:
        kev = json.load(f)
    kev["vulnerabilities"] = [{k: v[k] for k in KEV_FIELDS if k in v} for v in kev["vulnerabilities"]]
    dump(kev, out)


trim_kev("kev/known_exploited_vulnerabilities.json", "kev/known_exploited_vulnerabilities.min.json")
if len(sys.argv) > 2:
    # test fixture: the older official copy, same trimming
    trim_kev("kev/known_exploited_vulnerabilities.cisagov-2025.08.25.json", os.path.abspath(sys.argv[2]))

# Legacy (pre-Windows 10) update lists: one row per KB and servicing family.
with open(os.path.join(src, "patches/windows-legacy-rollups.json"), encoding="utf-8") as f:
    legacy = json.load(f)
ROLLUP_FIELDS = ["os_family", "kb", "kind", "release_date", "ms17_010"]
dump({
    "id": legacy["id"],
    "generated": legacy["generated"],
    "ms17_010_rule": legacy["ms17_010_rule"],
    "entries": [{k: e[k] for k in ROLLUP_FIELDS} for e in legacy["entries"]],
}, "patches/windows-legacy-rollups.min.json")

# Windows 10/11/Server build history: v2 rows, plus the legacy-format rows
# for builds v2 does not have (10240 = Windows 10 1507 / LTSB 2015, 15254).
with open(os.path.join(src, "patches/windows-update-history.json"), encoding="utf-8") as f:
    v2 = json.load(f)
with open(os.path.join(src, "patches/windows-update-history-legacy.json"), encoding="utf-8") as f:
    v1 = json.load(f)
rows = [{k: r[k] for k in ["full_version", "release_date", "kb_article", "release_type"]} for r in v2["data"]]
v2_builds = {r["full_version"].split(".")[2] for r in rows}


def patch_tuesday(day):
    d = datetime.date.fromisoformat(day)
    first = d.replace(day=1)
    offset = (1 - first.weekday()) % 7  # Tuesday = 1
    return d == first + datetime.timedelta(days=offset + 7)


for r in v1["Data"]:
    build = r["Version"].split(".")[0]
    if build in v2_builds:
        continue
    rows.append({
        "full_version": r["Win10Version"],
        "release_date": r["ReleaseDate"],
        "kb_article": r["Article"],
        # the legacy format has no release type: Patch Tuesday releases are
        # the security ("Standard") ones, anything else is treated as other.
        "release_type": "Standard" if patch_tuesday(r["ReleaseDate"]) else "Other",
    })
dump({"metadata": v2["metadata"], "legacy_metadata": v1["DataForGeeks"], "data": rows},
     "patches/windows-update-history.min.json")
