"""Run `colink check-config` on the configuration each CoLink service of a compose file gets.

Usage: compose_config_check.py COLINK_BINARY COMPOSE_FILE...

A service is CoLink's when its environment has COLINK_* variables. Their `${VAR:-default}`
references are replaced by the defaults (what `docker compose up` uses with no env file); the
binary must accept the result, so a compose file cannot drift from the configuration the
binary understands (a key renamed, a backend it refuses, cluster mode missing a part).
"""

import os
import re
import subprocess
import sys
import tempfile

import yaml

DEFAULT = re.compile(r"\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}")


def resolve(value: str) -> str:
    return DEFAULT.sub(lambda m: m.group(2) or "", str(value)).replace("$$", "$")


def main() -> int:
    binary, files = sys.argv[1], sys.argv[2:]
    checked = 0
    for path in files:
        with open(path, encoding="utf-8") as f:
            compose = yaml.safe_load(f)
        for name, service in (compose.get("services") or {}).items():
            env = service.get("environment") or {}
            if isinstance(env, list):
                env = dict(item.split("=", 1) for item in env)
            colink = {k: resolve(v) for k, v in env.items() if k.startswith("COLINK_")}
            if not colink:
                continue
            with tempfile.TemporaryDirectory() as data_dir:
                run_env = {"PATH": os.environ.get("PATH", ""), "COLINK_DATA_DIR": data_dir}
                run_env.update(colink)
                done = subprocess.run(
                    [binary, "check-config"], env=run_env, capture_output=True, text=True
                )
            if done.returncode != 0:
                print(f"{path}: service {name}: colink check-config refused its configuration:")
                print(done.stderr or done.stdout)
                return 1
            checked += 1
    print(f"{checked} CoLink services' configurations accepted by colink check-config")
    return 0


if __name__ == "__main__":
    sys.exit(main())
