# The calling convention of every task's train.sh, parsed in one place (sourced by tools/train_task.sh and
# by task scripts that call it per split):
#     TASK/train.sh CONFIG [WORK_DIR] [KEY=VALUE ...]
# `parse_task_args DEFAULT_WORK_DIR CONFIG [ARGS ...]` sets `config`, `work_dir` and the array `overrides`,
# or exits 2 with the reason. The rule (common/engine/README.md):
# - CONFIG is an existing .py file;
# - the argument after it is WORK_DIR unless it contains '='; a WORK_DIR that reads like a mistyped
#   override, a dotted config key (train_cfg.max_epochs) or a key with ':' (train_cfg.max_epochs:1), is an
#   error (a directory of that name: write ./NAME); tools/train.py also refuses a WORK_DIR that is a bare
#   key of the config (max_epochs);
# - every later argument is KEY=VALUE, KEY a dotted config key (param_scheduler.0.T_max=5).
_KEY='[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*'

parse_task_args() {
    local default=$1
    shift
    if [ $# -lt 1 ]; then
        echo "error: no CONFIG; usage: TASK/train.sh CONFIG [WORK_DIR] [KEY=VALUE ...]" >&2
        exit 2
    fi
    config=$1
    shift
    if [[ $config != *.py ]] || [ ! -f "$config" ]; then
        echo "error: CONFIG '$config' is not an mmengine .py config file; usage: TASK/train.sh CONFIG [WORK_DIR] [KEY=VALUE ...]" >&2
        exit 2
    fi
    work_dir=${default:-work_dirs/$(basename "${config%.py}")}
    if [ $# -gt 0 ] && [[ $1 != *=* ]]; then
        if [[ $1 =~ ^$_KEY: ]] || [[ $1 =~ ^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$ ]]; then
            echo "error: '$1' reads like a mistyped override (KEY=VALUE), not a WORK_DIR; for a directory of" \
                 "that name write ./$1" >&2
            exit 2
        fi
        work_dir=$1
        shift
    fi
    overrides=()
    local arg
    for arg in "$@"; do
        if ! [[ $arg =~ ^$_KEY= ]]; then
            echo "error: '$arg' is not KEY=VALUE (KEY a dotted config key, e.g. train_cfg.max_epochs=1); only the" \
                 "argument right after CONFIG may be a WORK_DIR" >&2
            exit 2
        fi
        overrides+=("$arg")
    done
}
