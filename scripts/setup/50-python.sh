#!/usr/bin/env bash
# Installs the Python tools the data-driven attribution comparison tests and
# bench need: a venv with a PINNED ChannelAttribution (built from its sdist with
# the local C++ compiler) plus its runtime deps, and the PINNED `lifetimes`
# (BG/NBD, Gamma-Gamma) the LTV comparison test and bench run beside ours.
#
# Idempotent: when the venv already has every pinned version, it does nothing.
# Location: ${ATTRIB_TOOLS_DIR:-$HOME/.cache/attribution-tools}/python-venv
# Needs: python3 (>= 3.9, with the venv module), a C++17 compiler (g++).
set -euo pipefail

CHANNEL_ATTRIBUTION_VERSION="2.2.5"
# Runtime deps of ChannelAttribution.
NUMPY_VERSION="1.26.4"
PANDAS_VERSION="2.2.3"
# ChannelAttribution imports matplotlib at module load (for choose_order plots).
MATPLOTLIB_VERSION="3.9.4"
# Build deps of the ChannelAttribution sdist (its pyproject asks for
# setuptools>=68 -- in practice >=77 for its SPDX license field --, wheel,
# Cython>=3.0, oldest-supported-numpy). We build without
# isolation against these pins so the build is reproducible and needs no
# source build of numpy.
SETUPTOOLS_VERSION="80.9.0"
WHEEL_VERSION="0.45.1"
CYTHON_VERSION="3.0.12"
# lifetimes 0.11.3 (2019, a pure-Python wheel) and the deps the LTV comparison
# was validated with on Python 3.11 (scipy, autograd, dill); it imports
# pkg_resources, which setuptools dropped in 81, so setuptools stays at the pin
# above.
LIFETIMES_VERSION="0.11.3"
SCIPY_VERSION="1.11.4"
AUTOGRAD_VERSION="1.7.0"
DILL_VERSION="0.3.9"

# Transitive deps (of pandas and matplotlib), pinned as pip constraints so a
# fresh machine gets the same environment the comparison was validated on.
TRANSITIVE_PINS=(
    "contourpy==1.3.3"
    "cycler==0.12.1"
    "fonttools==4.68.0"
    "kiwisolver==1.5.1"
    "packaging==26.3"
    "pillow==13.0.0"
    "pyparsing==3.3.3"
    "python-dateutil==4.0.0"
    "pytz==2026.6"
    "tzdata==2026.6"
)

TOOLS_DIR="${ATTRIB_TOOLS_DIR:-$HOME/.cache/attribution-tools}"
VENV_DIR="$TOOLS_DIR/python-venv"
PYTHON_BIN="${PYTHON:-python3}"
VENV_PY="$VENV_DIR/bin/python"

installed_version() {
    # Prints the installed version of a distribution in the venv, or nothing.
    "$VENV_PY" - "$1" <<'PY' 2>/dev/null || true
import sys
from importlib import metadata
try:
    print(metadata.version(sys.argv[1]))
except metadata.PackageNotFoundError:
    pass
PY
}

already_installed() {
    [[ -x "$VENV_PY" ]] || return 1
    [[ "$(installed_version ChannelAttribution)" == "$CHANNEL_ATTRIBUTION_VERSION" ]] || return 1
    [[ "$(installed_version numpy)" == "$NUMPY_VERSION" ]] || return 1
    [[ "$(installed_version pandas)" == "$PANDAS_VERSION" ]] || return 1
    [[ "$(installed_version matplotlib)" == "$MATPLOTLIB_VERSION" ]] || return 1
    MPLBACKEND=Agg "$VENV_PY" -c "import ChannelAttribution" >/dev/null 2>&1 || return 1
}

lifetimes_installed() {
    [[ -x "$VENV_PY" ]] || return 1
    [[ "$(installed_version lifetimes)" == "$LIFETIMES_VERSION" ]] || return 1
    [[ "$(installed_version scipy)" == "$SCIPY_VERSION" ]] || return 1
    [[ "$(installed_version autograd)" == "$AUTOGRAD_VERSION" ]] || return 1
    [[ "$(installed_version dill)" == "$DILL_VERSION" ]] || return 1
    "$VENV_PY" -W ignore -c "import lifetimes.datasets, lifetimes" >/dev/null 2>&1 || return 1
}

if already_installed && lifetimes_installed; then
    echo "python.sh: ChannelAttribution $CHANNEL_ATTRIBUTION_VERSION and lifetimes $LIFETIMES_VERSION already installed in $VENV_DIR"
    exit 0
fi

command -v "$PYTHON_BIN" >/dev/null || { echo "python.sh: $PYTHON_BIN not found" >&2; exit 1; }
command -v g++ >/dev/null || command -v c++ >/dev/null || {
    echo "python.sh: a C++ compiler (g++) is needed to build ChannelAttribution; e.g. apt-get install -y g++" >&2
    exit 1
}

mkdir -p "$TOOLS_DIR"
if [[ ! -x "$VENV_PY" ]]; then
    echo "python.sh: creating venv $VENV_DIR"
    "$PYTHON_BIN" -m venv "$VENV_DIR"
fi

CONSTRAINTS="$TOOLS_DIR/python-constraints.txt"
printf '%s\n' "${TRANSITIVE_PINS[@]}" >"$CONSTRAINTS"

pip_install() {
    "$VENV_PY" -m pip install --disable-pip-version-check --no-input --constraint "$CONSTRAINTS" "$@"
}

install_lifetimes() {
    echo "python.sh: installing lifetimes $LIFETIMES_VERSION and its pinned deps"
    pip_install \
        "setuptools==$SETUPTOOLS_VERSION" \
        "numpy==$NUMPY_VERSION" \
        "pandas==$PANDAS_VERSION" \
        "scipy==$SCIPY_VERSION" \
        "autograd==$AUTOGRAD_VERSION" \
        "dill==$DILL_VERSION" \
        "lifetimes==$LIFETIMES_VERSION"
    "$VENV_PY" -W ignore -c "import lifetimes.datasets; print('python.sh: lifetimes import OK')"
    lifetimes_installed || { echo "python.sh: lifetimes installed but versions do not match the pins" >&2; exit 1; }
}

if already_installed; then
    install_lifetimes
    echo "python.sh: done ($VENV_PY)"
    exit 0
fi

echo "python.sh: installing pinned build and runtime deps"
pip_install \
    "setuptools==$SETUPTOOLS_VERSION" \
    "wheel==$WHEEL_VERSION" \
    "Cython==$CYTHON_VERSION" \
    "numpy==$NUMPY_VERSION" \
    "pandas==$PANDAS_VERSION" \
    "matplotlib==$MATPLOTLIB_VERSION"

echo "python.sh: building ChannelAttribution $CHANNEL_ATTRIBUTION_VERSION from its sdist (takes a few minutes)"
# --no-binary: PyPI ships ChannelAttribution 2.2.5 as an sdist only; say so
# explicitly so a future wheel does not silently change what we compare against.
pip_install --no-build-isolation --no-binary ChannelAttribution \
    "ChannelAttribution==$CHANNEL_ATTRIBUTION_VERSION"

MPLBACKEND=Agg "$VENV_PY" -c "import ChannelAttribution; print('python.sh: ChannelAttribution import OK')"
already_installed || { echo "python.sh: install finished but versions do not match the pins" >&2; exit 1; }
install_lifetimes
echo "python.sh: done ($VENV_PY)"
