"""The administrative levels of the national check: partition keys and roll-up levels.

Constants only (no pandas, no Dask), so ``gridmap check --help`` can list them without loading
the analysis stack.
"""

__all__ = ["LEVELS", "PARTITION_BY"]

#: how ``--partition-by`` splits the communities (``auto``: by code where codes exist)
PARTITION_BY = ("district", "street", "auto", "spatial")

#: roll-up levels and the digits of the 12-digit community code that name them
LEVELS = {"street": 9, "district": 6, "city": 4, "province": 2}
