#!/usr/bin/env python3
"""Derives the compact registry extracts embedded by crates/vigie-demo.

Input: the shared registry copies (see nhs-ods/README.md and finess/README.md
for their provenance). Output: small UTF-8 CSVs with a header row and only the
columns the demo needs. Run from the repository root:

    python3 data/registries/derive.py /work/shared/data/registries
"""
import csv
import sys
from pathlib import Path

ENGLAND = ["Y56", "Y58", "Y59", "Y60", "Y61", "Y62", "Y63"]


def write(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    print(f"{path}: {len(rows)} rows")


def main(src):
    src = Path(src)
    out = Path(__file__).resolve().parent
    ods = src / "nhs-ods"

    regions = list(csv.DictReader(open(ods / "nhs-regions.csv", encoding="utf-8")))
    write(out / "nhs-ods/regions.csv", ["code", "name"],
          [(r["region_code"], r["short_name"]) for r in regions if r["region_code"] in ENGLAND])

    icbs = list(csv.DictReader(open(ods / "icb-regions.csv", encoding="utf-8")))
    write(out / "nhs-ods/icbs.csv", ["code", "name", "region"],
          sorted((r["icb_ods_code"], r["icb_name"], r["region_code"]) for r in icbs))

    # etr.csv: no header; col1 code, col2 name, col3 region, col4 ICB, col12 close date.
    trusts = []
    for r in csv.reader(open(ods / "etr.csv", encoding="ascii")):
        if r[11] == "" and r[2] in ENGLAND:
            trusts.append((r[0], r[1], r[2], r[3]))
    write(out / "nhs-ods/trusts.csv", ["code", "name", "region", "icb"], sorted(trusts))

    # epraccur.csv: col13 status A = active, col26 prescribing setting 4 = GP practice.
    practices = []
    for r in csv.reader(open(ods / "epraccur.csv", encoding="ascii")):
        if r[12] == "A" and r[25] == "4" and r[2] in ENGLAND:
            practices.append((r[0], r[1], r[2], r[3]))
    write(out / "nhs-ods/gp-practices.csv", ["code", "name", "region", "icb"], sorted(practices))

    # FINESS hospital list: FINESS;Raison sociale;Commune;Statut Juridique;Région
    status = {"Public": "public", "Privé non lucratif": "private-non-profit",
              "Privé lucratif": "private-for-profit"}
    hospitals, fr_regions = [], {}
    with open(src / "finess/hospital-establishments.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f, delimiter=";"):
            finess = r["FINESS"].strip()
            name = r["Raison sociale"].strip()
            prefix = finess + " - "
            if name.startswith(prefix):
                name = name[len(prefix):]
            code, _, region_name = r["Région"].partition(" - ")
            fr_regions[code.strip()] = region_name.strip()
            hospitals.append((finess, name, r["Commune"].strip(), status[r["Statut Juridique"].strip()],
                              code.strip()))
    write(out / "finess/regions.csv", ["code", "name"], sorted(fr_regions.items()))
    write(out / "finess/hospitals.csv", ["finess", "name", "commune", "status", "region"], sorted(hospitals))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/registries")
