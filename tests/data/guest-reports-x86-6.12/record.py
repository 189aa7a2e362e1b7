"""Re-record the consoles here under Debian's 6.12 cloud kernel: python3 tests/data/guest-reports-x86-6.12/record.py [NAME...]

The kit fetches bookworm-security's linux-image-6.12-cloud-amd64 into its cache (an apt
state of its own, see numaopt guest build --suite); each ``NAME.toml`` boots under it and
its serial console goes to ``NAME.console``, which tests/guest/test_oracles_kernels.py
judges next to the same layout recorded under 6.1 in ../guest-reports.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))  # the checkout, for tests.support

from numaopt.guest.kit import build_kit  # noqa: E402
from tests.support.record_consoles import main  # noqa: E402

if __name__ == "__main__":
    main(HERE, lambda layout: build_kit(arch="x86_64", suite="bookworm-security", package="linux-image-6.12-cloud-amd64"))
