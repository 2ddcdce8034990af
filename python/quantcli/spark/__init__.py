"""The Spark engine: ``quantcli compress --engine spark``, for folders that outgrow one machine.

- :mod:`.session`: a SparkSession with quantcli's defaults;
- :mod:`.uris`: paths and URIs as Hadoop sees them;
- :mod:`.plan`: listing and planning without bringing the file list to the driver;
- :mod:`.tasks`: what runs on the executors (the per-file pipeline, pass 1, choose-k);
- :mod:`.ledger`: the results, stored as partitions finish;
- :mod:`.driver`: the command's driver;
- :func:`compress_frame`: quantcli as a DataFrame function, for your own Spark pipeline.

PySpark is imported only inside functions, so importing this package is cheap.
"""

from __future__ import annotations

from .frame import compress_frame

__all__ = ["compress_frame"]
