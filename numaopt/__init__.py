"""numaopt: search, check and render QEMU guest NUMA layouts."""

__version__ = "0.1.0"
