"""What can be checked of packaging/terraform without Terraform: every .tf file parses (HCL2),
and every call of a local module passes exactly the variables it declares, all required ones
included. (`terraform validate` needs Terraform and its providers, not installable here.)

usage: terraform_check.py DIR
"""

import pathlib
import sys

import hcl2


def load(directory: pathlib.Path) -> dict[str, list]:
    blocks: dict[str, list] = {}
    for file in sorted(directory.glob("*.tf")):
        try:
            parsed = hcl2.load(file.open())
        except Exception as e:
            sys.exit(f"terraform_check: {file}: does not parse: {e}")
        for kind, items in parsed.items():
            blocks.setdefault(kind, []).extend(items)
    return blocks


def unquote(value):
    return value.strip('"') if isinstance(value, str) else value


def check(root: pathlib.Path) -> int:
    calls = 0
    for directory in sorted({f.parent for f in root.rglob("*.tf")}):
        for module in load(directory).get("module", []):
            for name, args in module.items():
                source = unquote(args.get("source", ""))
                if not source.startswith("./"):
                    continue
                target = (directory / source).resolve()
                declared = {}
                for variable in load(target).get("variable", []):
                    for var_name, body in variable.items():
                        declared[unquote(var_name)] = "default" in body
                given = {unquote(k) for k in args if not k.startswith("__")}
                given -= {"source", "version", "providers", "depends_on"}
                unknown = given - declared.keys()
                missing = {v for v, has_default in declared.items() if not has_default} - given
                if unknown or missing:
                    sys.exit(
                        f"terraform_check: module {name} in {directory}: "
                        f"unknown arguments {sorted(unknown)}, missing {sorted(missing)}"
                    )
                calls += 1
    return calls


if __name__ == "__main__":
    root = pathlib.Path(sys.argv[1])
    files = len(list(root.rglob("*.tf")))
    calls = check(root)
    print(f"terraform_check: {files} files parse; {calls} local module calls match their variables")
