"""The main job (`make demo`): for each landed task, train its baseline and Mamba variants on the
embedded toy data set (written in the task's real format on first use) and print the comparison."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LANDED_TASKS = ["asmamba", "actionmamba"]


def main():
    for task in LANDED_TASKS:
        print(f"$ python tools/compare.py {task} --toy", flush=True)
        subprocess.run([sys.executable, "tools/compare.py", task, "--toy"], cwd=ROOT, check=True)


if __name__ == "__main__":
    main()
