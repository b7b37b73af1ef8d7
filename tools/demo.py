"""The main job (`make demo`): for each task that has landed, train its baseline and Mamba variants on
the embedded toy data set and print the comparison table; with no task landed, print the mixer
benchmark at small sizes."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LANDED_TASKS: list[str] = []


def run(*args):
    print("$ python " + " ".join(args), flush=True)
    subprocess.run([sys.executable, *args], cwd=ROOT, check=True)


def main():
    if not LANDED_TASKS:
        run("tools/bench_mixers.py", "--d-model", "128", "--lengths", "256", "1024", "--timeout", "60")
    for task in LANDED_TASKS:
        run("tools/compare.py", task, "--toy")


if __name__ == "__main__":
    main()
