"""Offline stand-in for the pip bootstrap script that ansible-test downloads.

ansible-test runs its cached ``get_pip_<version>.py`` inside each fresh sanity virtual
environment, with pip's install arguments. The original is fetched from a host outside the
package registries, which CI cannot reach; this seeds pip from the interpreter's own
``ensurepip`` and then lets pip install the requested packages from the package index.
ansible-test scrubs the environment, so the caller's pip and TLS settings (index, CA bundle)
are read back from ``offline_get_pip_env.json`` beside this script.
"""

import ensurepip
import json
import os
import subprocess
import sys
from pathlib import Path

GET_PIP_ONLY = ("--no-setuptools", "--no-wheel")
SAVED_ENVIRONMENT = Path(__file__).with_name("offline_get_pip_env.json")


def main() -> int:
    environment = dict(os.environ)
    if SAVED_ENVIRONMENT.exists():
        environment.update(json.loads(SAVED_ENVIRONMENT.read_text()))
    ensurepip.bootstrap(upgrade=True)
    arguments = [argument for argument in sys.argv[1:] if argument not in GET_PIP_ONLY]
    return subprocess.call([sys.executable, "-m", "pip", "install", *arguments], env=environment)


if __name__ == "__main__":
    sys.exit(main())
