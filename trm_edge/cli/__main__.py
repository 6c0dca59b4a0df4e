"""`python -m trm_edge.cli ...`: the `trm-edge` command."""
from . import main

main()
