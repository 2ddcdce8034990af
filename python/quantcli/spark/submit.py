"""The file to give spark-submit: ``spark-submit [options] PATH_OF_THIS_FILE compress ...``.

Its path: ``python -c 'import quantcli.spark.submit as m; print(m.__file__)'``.
"""

from __future__ import annotations

import os
import sys


def unmerge_stderr() -> None:
    """Spark's PythonRunner merges the Python process's stderr into its stdout; point
    stderr back at spark-submit's own, so that stdout holds only ``--json`` lines."""

    def same(a: os.stat_result, b: os.stat_result) -> bool:
        return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)

    parent = f"/proc/{os.getppid()}/fd/"
    try:
        if not same(os.fstat(1), os.fstat(2)) or same(os.stat(parent + "1"), os.stat(parent + "2")):
            return  # not merged here, or merged in spark-submit's own streams too
        fd = os.open(parent + "2", os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
    except OSError:
        return  # no /proc (not Linux): stderr stays merged
    sys.stderr.flush()
    os.dup2(fd, 2)
    os.close(fd)


if __name__ == "__main__":
    # Run as a script, this file's folder comes first on sys.path; its module names
    # (plan, tasks, ...) must not shadow anyone's top-level modules.
    del sys.path[0]
    if "PYSPARK_GATEWAY_PORT" in os.environ:  # started by spark-submit
        unmerge_stderr()
    from quantcli.cli import main

    main()
