"""Reads an XLSX workbook with openpyxl (Debian's python3-openpyxl) and prints its sheets as
JSON: {"sheets": [{"name", "rows": [[cell, ...], ...]}]}, each cell as openpyxl reads it
(numbers as numbers, text as text, empty as null) plus its type, so the caller can tell a
number from text that looks like one.

    python3 read_xlsx.py FILE
"""

import json
import sys

import openpyxl


def main():
    workbook = openpyxl.load_workbook(sys.argv[1], read_only=True, data_only=False)
    sheets = []
    for sheet in workbook.worksheets:
        rows = []
        for row in sheet.iter_rows():
            rows.append([{"value": c.value, "type": c.data_type} for c in row])
        sheets.append({"name": sheet.title, "rows": rows})
    json.dump({"sheets": sheets}, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
