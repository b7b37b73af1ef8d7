"""Write a task's synthetic data set, in the task's real on-disk format.

    python tools/make_toy_data.py TASK OUT_DIR [--seed S]

TASK is a task package (asmamba, actionmamba, ...); its toy configs read TASK.toy_data_root. The set is built
in a hidden sibling directory and renamed to OUT_DIR when complete; OUT_DIR must not exist or be empty.
"""
import argparse
import os
import sys

# Run as a script: the repository root, not tools/, must lead sys.path.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common.engine import LANDED_TASKS, get_task, write_toy_data  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task", help=f"task package name: {', '.join(LANDED_TASKS)}")
    parser.add_argument("out_dir", help="directory to write the data set into")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    try:
        write_toy_data(get_task(args.task), args.out_dir, seed=args.seed)
    except (ValueError, FileExistsError) as e:
        raise SystemExit(f"error: {e}")
    print(f"wrote the {args.task} toy data set to {args.out_dir}")


if __name__ == "__main__":
    main()
