#!/usr/bin/env python3
"""Converts docs/openapi.yaml to a C++ source holding the document as compact JSON.

Usage: openapi_to_cc.py openapi.yaml out.cc
Fails (non-zero) if the YAML does not parse or is not an OpenAPI 3.1 document.
"""
import json
import sys

import yaml


def main() -> int:
    src, out = sys.argv[1], sys.argv[2]
    with open(src, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    if not isinstance(doc, dict) or not str(doc.get("openapi", "")).startswith("3.1"):
        print(f"{src}: not an OpenAPI 3.1 document", file=sys.stderr)
        return 1
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=str)
    # Split into raw-string pieces well under compilers' literal limits.
    pieces = [text[i:i + 8000] for i in range(0, len(text), 8000)]
    with open(out, "w", encoding="utf-8") as f:
        f.write("// Generated from docs/openapi.yaml by scripts/openapi_to_cc.py. Do not edit.\n")
        f.write('#include "server/openapi.h"\n\n#include <string>\n\n')
        f.write("namespace mercator {\nstd::string_view OpenApiJson() {\n")
        f.write("  static const std::string kJson = std::string()\n")
        for p in pieces:
            f.write('      + R"MERCATOR_OPENAPI(' + p + ')MERCATOR_OPENAPI"\n')
        f.write("      ;\n  return kJson;\n}\n}  // namespace mercator\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
