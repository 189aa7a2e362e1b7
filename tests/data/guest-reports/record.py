"""Re-record the guest consoles next to each layout: python3 tests/data/guest-reports/record.py [NAME...]

Boots every ``NAME.toml`` here (two at a time) with the cached guest kit (Debian's 6.1) and
writes the serial console to ``NAME.console``; the oracle unit tests read those files.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))  # the checkout, for tests.support

from numaopt.guest.kit import load_kit  # noqa: E402
from tests.support.record_consoles import main  # noqa: E402

if __name__ == "__main__":
    main(HERE, lambda layout: load_kit())
