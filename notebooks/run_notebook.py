#!/usr/bin/python3
"""Execute a signdyn notebook top to bottom on a result file, with Debian's Jupyter.

Usage: notebooks/run_notebook.py NOTEBOOK.ipynb [RESULT.h5] [-o EXECUTED.ipynb] [--timeout S]

The result path reaches the notebook as the environment variable SIGNDYN_RESULT (each
notebook's first cell reads it, with a default matching the command documented at its top);
python_module.ipynb reads no file (it calls the `signdyn` module: PYTHONPATH=build/python).
The kernel is Debian's python3 (python3-ipykernel) and runs in the current directory. Exits
with status 1 and the failing cell's error when a cell raises. Needs python3-nbclient,
python3-nbformat, python3-ipykernel, python3-h5py and python3-matplotlib.
"""
import argparse
import os
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook")
    parser.add_argument("result", nargs="?", help="HDF5 file the notebook reads (SIGNDYN_RESULT)")
    parser.add_argument("-o", "--out", help="write the executed notebook here")
    parser.add_argument("--timeout", type=int, default=120, help="seconds per cell")
    args = parser.parse_args()

    if args.result:
        os.environ["SIGNDYN_RESULT"] = os.path.abspath(args.result)
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # quiet the kernel debugger
    nb = nbformat.read(args.notebook, as_version=4)
    client = NotebookClient(nb, timeout=args.timeout, kernel_name="python3",
                            resources={"metadata": {"path": os.getcwd()}})
    try:
        client.execute()
    except CellExecutionError as e:
        print(f"{args.notebook}: a cell failed:\n{e}", file=sys.stderr)
        return 1
    if args.out:
        nbformat.write(nb, args.out)
    print(f"{args.notebook}: {len(nb.cells)} cells executed"
          + (f" on {args.result}" if args.result else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
