"""Extracts the openAPIV3Schema of CustomResourceDefinitions into JSON schema files.

    git -C <keda checkout> show v2.20.2:config/crd/bases/keda.sh_scaledobjects.yaml \
      | python deploy/k8s/schemas/extract_crd_schemas.py - > /dev/null   # or name files

    python deploy/k8s/schemas/extract_crd_schemas.py CRD.yaml [CRD.yaml ...]

Writes `<group>_<kind>_<version>.json` (lower case) next to this script for every served
version of every CRD read, with the CRD's own schema unchanged, only `apiVersion` and `kind`
pinned to the CRD's (the API server checks those; the CRD schema leaves them free).
The sources and versions are in README.md here.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent


def extract(crd: dict) -> dict[str, dict]:
    spec, out = crd["spec"], {}
    group, kind = spec["group"], spec["names"]["kind"]
    for version in spec["versions"]:
        if not version.get("served", True):
            continue
        schema = dict(version["schema"]["openAPIV3Schema"])
        properties = dict(schema.get("properties", {}))
        properties["apiVersion"] = {"type": "string", "enum": [f"{group}/{version['name']}"]}
        properties["kind"] = {"type": "string", "enum": [kind]}
        schema["properties"] = properties
        schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind"})
        schema = {"$schema": "http://json-schema.org/draft-07/schema#",
                  "title": f"{kind} {group}/{version['name']}", **schema}
        out[f"{group}_{kind}_{version['name']}.json".lower()] = schema
    return out


def main(paths: list[str]) -> int:
    for path in paths:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        for crd in yaml.safe_load_all(text):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            for name, schema in extract(crd).items():
                (HERE / name).write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n",
                                         encoding="utf-8")
                print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
