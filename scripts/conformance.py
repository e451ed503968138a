#!/usr/bin/env python
"""Run ONNX's node conformance tests against RONN.

    python scripts/conformance.py                    # whole suite, per-op table and total
    python scripts/conformance.py --op Conv -v       # only tests whose model uses Conv, with failure messages
    python scripts/conformance.py -k 'test_gemm'     # tests whose name matches a regular expression
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.conformance import per_op_summary, run_node_tests  # noqa: E402
from engine.ops.registry import registered_operators  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--op", action="append", default=[], help="only tests whose model uses this op")
    parser.add_argument("-k", dest="pattern", help="only tests whose name matches this regular expression")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each failure's message")
    parser.add_argument("--json", type=Path, help="write every result to this JSON file")
    parser.add_argument("--registered", action="store_true", help="per-op table only for registered ops")
    args = parser.parse_args()

    results = run_node_tests(args.op or None, args.pattern)
    for r in results:
        if r.status == "fail" or (args.verbose and r.status == "pass"):
            line = f"{r.status.upper():5} {r.name}"
            if args.verbose and r.message:
                line += f"\n        {r.message[:600]}"
            print(line)
    registered = {op for (_domain, op) in registered_operators()}
    summary = per_op_summary(results)
    print(f"\n{'op':28} {'passed':>7} {'run':>5}  rate")
    for op, (passed, run) in summary.items():
        if args.op and op not in args.op:
            continue
        if args.registered and op not in registered:
            continue
        mark = "" if op in registered else "  (not registered)"
        print(f"{op:28} {passed:7d} {run:5d}  {passed / run:5.0%}{mark}")
    counts = {s: sum(r.status == s for r in results) for s in ("pass", "fail", "excluded")}
    print(f"\ntotal: {len(results)} tests, {counts['pass']} passed, {counts['fail']} failed, "
          f"{counts['excluded']} excluded")
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in results], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
