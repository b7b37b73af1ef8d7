"""The main job (`make demo`, `make demo TASK=name`): for each landed task, its baseline and Mamba
variants trained on the task's toy data set (written in the real format on first use) with the same
budget, then a report per task (tools/compare.py). The demo trains each config for the task's
`demo_epochs` (its whole toy schedule scaled down) so that all tasks together stay under 20 minutes
on 2 cores; `python tools/compare.py TASK --toy` runs the full toy schedule."""
import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from common.engine import LANDED_TASKS, format_seconds, get_task  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", action="append", choices=LANDED_TASKS, help="only this task (repeatable)")
    args = parser.parse_args(argv)
    stamp, reports, start = time.strftime("%Y%m%d_%H%M%S"), {}, time.perf_counter()
    for name in args.task or LANDED_TASKS:
        task = get_task(name)
        out = os.path.join("work_dirs", "compare", name, f"{stamp}_demo")
        cmd = [sys.executable, "tools/compare.py", name, "--toy", "--out", out]
        if task.demo_epochs:
            cmd += ["--epochs", str(task.demo_epochs)]
            print(f"\n== {name}: every config for {task.demo_epochs} epochs (its toy schedule scaled down; "
                  f"`python tools/compare.py {name} --toy` runs the full one)", flush=True)
        else:
            print(f"\n== {name}: every config with its full toy schedule", flush=True)
        subprocess.run(cmd, cwd=ROOT, check=True)
        reports[name] = os.path.join(out, "report.md")
    print(f"\nreports ({format_seconds(time.perf_counter() - start)} in all):")
    for name, report in reports.items():
        print(f"  {name}: {report}")


if __name__ == "__main__":
    main()
