"""Lint helm/colink in strict mode and render it with each value set into OUT/<values>/, one
manifest per file, for kubernetes-validate. Also checks the chart refuses what it must refuse.

usage: helm_check.py CHART OUT
"""

import pathlib
import sys

import helm_python as helm

KUBE_VERSION = "v1.30.0"


def fail(message: str) -> None:
    print(f"helm_check: {message}", file=sys.stderr)
    sys.exit(1)


def values_sets(chart: pathlib.Path) -> dict[str, dict]:
    sets = {"values.yaml": {}}
    for extra in sorted(chart.glob("values-*.yaml")):
        sets[extra.name] = helm.values_from_yaml(extra.read_text())
    return sets


def lint(chart: pathlib.Path, name: str, values: dict) -> None:
    report = helm.lint(chart, values, strict=True, kube_version=KUBE_VERSION)
    # Severity 1 is informational ("icon is recommended"); strict mode fails on the rest.
    problems = [m for m in report.get("messages", []) if m.get("severity", 0) >= 2]
    problems += [{"error": e} for e in report.get("errors") or []]
    for p in problems:
        print(f"  {name}: {p.get('path', '')} {p.get('error')}", file=sys.stderr)
    if problems:
        fail(f"helm lint --strict failed with {name}")


def render(chart: helm.Chart, name: str, values: dict, out: pathlib.Path) -> list[str]:
    manifests = chart.render(values, name="colink", namespace="colink", is_install=True)
    target = out / name.removesuffix(".yaml")
    target.mkdir(parents=True, exist_ok=True)
    kinds = []
    for path, text in sorted(manifests.items()):
        if not path.endswith(".yaml") or not text.strip():
            continue
        file = target / pathlib.Path(path).name
        file.write_text(text)
        for line in text.splitlines():
            if line.startswith("kind: "):
                kinds.append(line.removeprefix("kind: "))
    return kinds


def refuses(chart: helm.Chart, values: dict, words: str) -> None:
    try:
        chart.render(values, name="colink", namespace="colink", is_install=True)
    except Exception as e:  # the SDK raises HelmRenderError
        if words not in str(e):
            fail(f"refused {values} with another message: {e}")
        return
    fail(f"rendered {values}, which it must refuse ({words})")


def main() -> None:
    chart_dir, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    chart = helm.Chart.load(chart_dir)
    expected = {
        "values.yaml": {"StatefulSet", "Service", "ConfigMap"},
        "values-cluster.yaml": {
            "Deployment",
            "Service",
            "ConfigMap",
            "Ingress",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
            "ServiceMonitor",
        },
    }
    for name, values in values_sets(chart_dir).items():
        lint(chart_dir, name, values)
        kinds = set(render(chart, name, values, out))
        missing = expected.get(name, set()) - kinds
        if missing:
            fail(f"{name} rendered {sorted(kinds)}, without {sorted(missing)}")
        print(f"helm_check: {name}: lint --strict clean; rendered {', '.join(sorted(kinds))}")
    refuses(chart, {"autoscaling": {"enabled": True}}, "autoscaling needs mode: cluster")
    refuses(chart, {"mode": "cluster"}, "needs existingSecret")
    refuses(chart, {"mode": "clustered"}, "value must be one of 'single', 'cluster'")
    print("helm_check: refuses autoscaling in single mode, cluster mode without a Secret, an unknown mode")


if __name__ == "__main__":
    main()
