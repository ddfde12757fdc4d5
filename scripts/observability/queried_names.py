"""Every metric a dashboard or a rule file queries must be one the server exports.

usage: queried_names.py SCRAPE FILE...   (FILE: Prometheus rule YAML or Grafana dashboard JSON)

Reads the metric names of a live scrape (`# TYPE` lines; a histogram also exports _bucket, _sum
and _count) and the PromQL expressions of each file (`expr:` lines, or `"expr"` fields), and
fails naming every queried metric the scrape lacks. Functions, keywords, label names and
Grafana variables are not metric names and are skipped.
"""

import json
import re
import sys

# Series Prometheus makes itself, not the server.
PROMETHEUS_OWN = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
PROMQL_WORDS = {
    "sum", "rate", "increase", "deriv", "max", "min", "avg", "count", "topk", "bottomk",
    "histogram_quantile", "by", "without", "on", "ignoring", "group_left", "group_right",
    "and", "or", "unless", "offset", "bool", "label_values", "abs", "clamp_min", "clamp_max",
}


def exported(scrape_path):
    names = set()
    for line in open(scrape_path):
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            name, kind = m.groups()
            names.add(name)
            if kind == "histogram":
                names.update({name + "_bucket", name + "_sum", name + "_count"})
    return names


def expressions(path):
    text = open(path).read()
    if path.endswith(".json"):
        found = []

        def walk(node):
            if isinstance(node, dict):
                for key, value in node.items():
                    if key in ("expr", "definition") and isinstance(value, str):
                        found.append(value)
                    elif key == "query" and isinstance(value, dict):
                        walk(value)
                    else:
                        walk(value)
            elif isinstance(node, list):
                for item in node:
                    walk(item)

        walk(json.loads(text))
        return found
    # YAML: `expr: …` on one line, or `expr: |` and the lines indented deeper than it.
    exprs, block, indent = [], None, 0
    for line in text.splitlines():
        depth = len(line) - len(line.lstrip())
        if block is not None and line.strip() and depth > indent:
            block.append(line)
            continue
        block = None
        m = re.match(r"(\s*)(?:- )?expr:\s*(\|)?\s*(.*)$", line)
        if m:
            indent = len(m.group(1))
            if m.group(2):
                block = []
                exprs.append(block)
            else:
                exprs.append([m.group(3)])
    return [" ".join(e) for e in exprs]


def queried(expr):
    expr = re.sub(r"label_values\(([^,)]+),[^)]*\)", r"\1", expr)  # Grafana: (metric, label)
    expr = re.sub(r"\{[^}]*\}", " ", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", " ", expr)  # ranges
    expr = re.sub(r'"[^"]*"', " ", expr)  # strings
    expr = re.sub(r"\$\w+|\$\{\w+\}", " ", expr)  # Grafana variables
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", " ", expr)  # label lists
    names = set()
    for token in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
        if token in PROMQL_WORDS or re.fullmatch(r"\d+[smhdwy]", token):
            continue
        names.add(token)
    return names


def main():
    scrape, files = sys.argv[1], sys.argv[2:]
    have = exported(scrape) | PROMETHEUS_OWN
    missing = {}
    for path in files:
        for expr in expressions(path):
            for name in queried(expr) - have:
                missing.setdefault(name, set()).add(path)
    if missing:
        for name, paths in sorted(missing.items()):
            print(f"queried but not exported: {name} (in {', '.join(sorted(paths))})")
        sys.exit(1)
    print(f"queried_names.py: every metric queried by {len(files)} files is exported")


if __name__ == "__main__":
    main()
