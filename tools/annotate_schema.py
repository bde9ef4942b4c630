#!/usr/bin/env python3
"""Copies the meaning, default and unit of every key documented in scenarios/SCHEMA.md into
scenarios/schema/scenario.schema.json ("description" and the annotation "x-unit"), so that editors and the desktop
app's form show the same help text as the reference. Run it after editing SCHEMA.md:

    python3 tools/annotate_schema.py

JSON Schema ignores unknown keywords ("x-unit" is an annotation); the schema's constraints are left as they are."""
import json
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCHEMA_MD = ROOT / "scenarios" / "SCHEMA.md"
SCHEMA_JSON = ROOT / "scenarios" / "schema" / "scenario.schema.json"

# SCHEMA.md section heading -> the schema object its table describes ("" is the top level).
SECTIONS = {"Top level": "", "`cluster`": "cluster", "`parallelism`": "parallelism", "`training`": "training",
            "`costs`": "costs", "`failures` (the whole run)": "failures",
            "`serving` (deployments, `flopcast serve`)": "serving"}


def cells(line):
    parts = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [p.strip().replace("\\|", "|") for p in parts]


def node_for(schema, section, key):
    node = schema
    path = ([section] if section else []) + key.split(".")
    for name in path:
        if "[]" in name:
            return None
        props = node.get("properties")
        if props is None or name not in props:
            return None
        node = props[name]
    return node


def main():
    schema = json.loads(SCHEMA_JSON.read_text())
    section = None
    header = []
    for line in SCHEMA_MD.read_text().splitlines():
        if line.startswith("## "):
            section = SECTIONS.get(line[3:].strip())
            header = []
            continue
        if section is None or not line.startswith("|") or line.startswith("|---"):
            continue
        row = cells(line)
        if not header:
            header = row
            continue
        fields = dict(zip(header, row))
        key = fields.get("key", "").strip("`")
        node = node_for(schema, section, key) if key else None
        if node is None:
            continue
        text = fields.get("meaning", "").replace("`", "")
        default = fields.get("default", "").replace("`", "")
        if default.startswith("required"):
            text = f"{text} ({default})" if text else default
        elif default and default != "none":
            text = f"{text} (default: {default})" if text else f"default: {default}"
        if text:
            node["description"] = text
        unit = fields.get("unit", "")
        if unit:
            node["x-unit"] = unit
    SCHEMA_JSON.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
