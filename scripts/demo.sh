#!/usr/bin/env bash
# The demo command: every built-in dataset through the whole batch flow on embedded defaults.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
trackline demo "$@"
