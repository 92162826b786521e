"""The run store: runs, per-member metrics, checkpoints and resume states in SQLite (WAL).

>>> from grokscope.store import Store
>>> store = Store()            # $GROKSCOPE_STORE or ./grokscope-runs/grokscope.db  # doctest: +SKIP

See ``docs/architecture.md`` ("Store") for the contract.
"""

from grokscope.store._record import STATUSES, RunRecord
from grokscope.store._schema import SCHEMA_VERSION
from grokscope.store._connection import default_store_path
from grokscope.store._store import Store

__all__ = ["Store", "RunRecord", "STATUSES", "SCHEMA_VERSION", "default_store_path"]
