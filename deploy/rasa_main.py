"""`rasa` with the project's hot-path fixes: `python -m deploy.rasa_main run --model ...`.

Every Rasa server of the system (make run, the production profile, the tests) goes through
here, so all of them run the same code. The benchmark's bare-Rasa baseline is stock
`rasa run` on purpose: it is what the system is compared with.
"""

from __future__ import annotations

import sys

from deploy import rasa_patches


def main() -> None:
    """Installs the patches, then hands the command line to Rasa's own entry point."""
    rasa_patches.install()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
