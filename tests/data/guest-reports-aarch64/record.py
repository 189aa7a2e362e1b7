"""Re-record the aarch64 guest consoles next to each layout: python3 tests/data/guest-reports-aarch64/record.py [NAME...]

Boots every ``NAME.toml`` here (two at a time) under TCG with the cached arm64 guest kit
and writes the serial console to ``NAME.console``; tests/guest/test_oracles_aarch64.py
reads those files.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))  # the checkout, for tests.support

from numaopt.guest.kit import load_kit  # noqa: E402
from tests.support.record_consoles import main  # noqa: E402

if __name__ == "__main__":
    main(HERE, lambda layout: load_kit(arch=layout.machine.arch))
