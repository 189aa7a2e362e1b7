"""python -m numaopt"""

from numaopt.cli import main

main()
