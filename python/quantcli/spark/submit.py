"""The file to give spark-submit: ``spark-submit [options] PATH_OF_THIS_FILE compress ...``.

Its path: ``python -c 'import quantcli.spark.submit as m; print(m.__file__)'``.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":
    # Run as a script, this file's folder comes first on sys.path; its module names
    # (plan, tasks, ...) must not shadow anyone's top-level modules.
    del sys.path[0]
    from quantcli.cli import main

    main()
