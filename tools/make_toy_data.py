"""Write a task's synthetic data set, in the task's real on-disk format.

    python tools/make_toy_data.py TASK OUT_DIR [--seed S]

TASK is a task package (asmamba, actionmamba, ...); its toy configs read TASK.toy_data_root.
"""
import argparse
import os
import sys

# Run as a script: the repository root, not tools/, must lead sys.path.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common.engine import LANDED_TASKS, get_task  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task", help=f"task package name: {', '.join(LANDED_TASKS)}")
    parser.add_argument("out_dir", help="directory to write the data set into")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    try:
        task = get_task(args.task)
    except ValueError as e:
        raise SystemExit(f"error: {e}")
    task.make_toy_data(args.out_dir, seed=args.seed)
    print(f"wrote the {task.name} toy data set to {args.out_dir}")


if __name__ == "__main__":
    main()
