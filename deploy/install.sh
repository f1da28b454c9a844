#!/usr/bin/env bash
# Install (or upgrade, or remove) casahub on Raspberry Pi OS / Debian bookworm or later.
#
#   sudo deploy/install.sh                 install, or upgrade: run it again after `git pull`
#   sudo deploy/install.sh --no-start      install without (re)starting the service
#   sudo deploy/install.sh --uninstall     remove the program and the service; keep config and data
#   sudo deploy/install.sh --uninstall --purge   also remove /etc/casahub, /var/lib/casahub and the user
#   deploy/install.sh --prefix DIR         everything under DIR (tests, images): no user, no systemctl
#
# What it does: a `casahub` system user (in the bluetooth, dialout and gpio groups that
# exist), a venv in /opt/casahub/venv with this source tree pip-installed, the config in
# /etc/casahub/casahub.toml (the documented defaults; never overwritten), the data dir
# /var/lib/casahub (0750, owned by casahub), a udev rule that lets casahub drive the status
# LED, and the systemd unit casahub.service, enabled and (re)started.
#
# Environment: PYTHON (default python3, at least 3.11), PIP_* as pip itself reads them.
set -euo pipefail

readonly UNIT_NAME=casahub.service
readonly USER_NAME=casahub
readonly DEVICE_GROUPS=(bluetooth dialout gpio)

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly SRC
PYTHON=${PYTHON:-python3}
PREFIX=""
ACTION=install
PURGE=0
START=1

usage() {
    sed -n '2,17s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

say() { printf 'casahub-install: %s\n' "$*"; }
die() { printf 'casahub-install: error: %s\n' "$*" >&2; exit 1; }

while [[ $# -gt 0 ]]; do
    case $1 in
        --prefix)
            [[ $# -ge 2 && -n $2 ]] || die "--prefix needs a directory"
            PREFIX=$2
            shift 2
            ;;
        --prefix=*) PREFIX=${1#--prefix=}; shift ;;
        --uninstall) ACTION=uninstall; shift ;;
        --purge) PURGE=1; shift ;;
        --no-start) START=0; shift ;;
        --python)
            [[ $# -ge 2 && -n $2 ]] || die "--python needs an interpreter"
            PYTHON=$2
            shift 2
            ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown option: $1 (see --help)" ;;
    esac
done

if [[ $PURGE -eq 1 && $ACTION != uninstall ]]; then
    die "--purge goes with --uninstall"
fi

if [[ -n $PREFIX ]]; then
    mkdir -p -- "$PREFIX"
    PREFIX=$(cd -- "$PREFIX" && pwd)
    [[ $PREFIX != / ]] || PREFIX=""
fi

# Privileged steps (user, ownership, systemctl, udev) only for a real install as root.
SYSTEM=0
if [[ -z $PREFIX ]]; then
    [[ $EUID -eq 0 ]] || die "run as root (sudo $0), or give --prefix DIR to install under DIR"
    SYSTEM=1
fi

readonly OPT_DIR=$PREFIX/opt/casahub
readonly VENV=$OPT_DIR/venv
readonly ETC_DIR=$PREFIX/etc/casahub
readonly CONFIG=$ETC_DIR/casahub.toml
readonly DATA_DIR=$PREFIX/var/lib/casahub
readonly UNIT_DIR=$PREFIX/etc/systemd/system
readonly UNIT=$UNIT_DIR/$UNIT_NAME
readonly UDEV_RULE=$PREFIX/etc/udev/rules.d/90-casahub-led.rules

skip() {
    say "skipped (${PREFIX:+--prefix}${PREFIX:+ }${PREFIX:-not root}): $*"
}

systemd_running() {
    [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1
}

# ----------------------------------------------------------------------------- install

check_python() {
    command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found: apt-get install python3"
    "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
        || die "casahub needs Python 3.11 or later ($PYTHON is $("$PYTHON" -V 2>&1))"
    if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        if [[ $SYSTEM -eq 1 ]] && command -v apt-get >/dev/null 2>&1; then
            say "installing python3-venv"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
        else
            die "$PYTHON cannot make a venv: apt-get install python3-venv"
        fi
    fi
}

make_user() {
    if [[ $SYSTEM -eq 0 ]]; then
        skip "system user $USER_NAME"
        return
    fi
    if ! getent passwd "$USER_NAME" >/dev/null; then
        say "creating system user $USER_NAME"
        useradd --system --user-group --home-dir /var/lib/casahub --no-create-home \
            --shell /usr/sbin/nologin --comment "casahub home security hub" "$USER_NAME"
    fi
    local group
    for group in "${DEVICE_GROUPS[@]}"; do
        if getent group "$group" >/dev/null; then
            usermod --append --groups "$group" "$USER_NAME"
        else
            say "group $group does not exist here: $USER_NAME is not added to it"
        fi
    done
}

install_venv() {
    mkdir -p -- "$OPT_DIR"
    if [[ -x $VENV/bin/python ]] && ! "$VENV/bin/python" -c '' >/dev/null 2>&1; then
        say "the venv in $VENV is broken (Python upgraded?): making it again"
        rm -rf -- "$VENV"
    fi
    if [[ ! -x $VENV/bin/python ]]; then
        say "creating the venv $VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    # Build from a copy, so the source tree gets no build/ or *.egg-info from pip.
    local build
    build=$(mktemp -d)
    # shellcheck disable=SC2064  # expand $build now: it is local
    trap "rm -rf -- '$build'" EXIT
    cp -R -- "$SRC/pyproject.toml" "$SRC/README.md" "$SRC/alarms" "$SRC/drivers" "$SRC/hub" "$build/"
    find "$build" -name __pycache__ -type d -prune -exec rm -rf {} +
    say "installing casahub into $VENV (pip)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "$build"
    rm -rf -- "$build"
    trap - EXIT
    "$VENV/bin/casahub" --help >/dev/null
}

install_config() {
    mkdir -p -- "$ETC_DIR"
    if [[ -e $CONFIG ]]; then
        say "keeping the existing $CONFIG"
    else
        say "writing the default configuration $CONFIG"
        install -m 0640 -- "$SRC/config/casahub.toml" "$CONFIG"
    fi
    if [[ $SYSTEM -eq 1 ]]; then
        # Secrets may live in the config: readable by root and the casahub group only.
        chown root:"$USER_NAME" -- "$ETC_DIR" "$CONFIG"
        chmod 0750 -- "$ETC_DIR"
    else
        skip "chown of $ETC_DIR to root:$USER_NAME"
    fi
    "$VENV/bin/casahub" config check "$CONFIG" \
        || die "$CONFIG is not valid (see above): fix it, then run this script again"
}

install_data_dir() {
    mkdir -p -- "$DATA_DIR"
    chmod 0750 -- "$DATA_DIR"
    if [[ $SYSTEM -eq 1 ]]; then
        chown "$USER_NAME:$USER_NAME" -- "$DATA_DIR"
    else
        skip "chown of $DATA_DIR to $USER_NAME"
    fi
}

install_unit() {
    mkdir -p -- "$UNIT_DIR"
    if [[ -n $PREFIX ]]; then
        # Point the unit at the files under the prefix, so it can be verified there.
        sed -e "s|/opt/casahub|$PREFIX/opt/casahub|g" \
            -e "s|/etc/casahub|$PREFIX/etc/casahub|g" \
            -e "s|/var/lib/casahub|$PREFIX/var/lib/casahub|g" \
            -- "$SRC/deploy/$UNIT_NAME" >"$UNIT.tmp"
        chmod 0644 -- "$UNIT.tmp"
        mv -f -- "$UNIT.tmp" "$UNIT"
    else
        install -m 0644 -- "$SRC/deploy/$UNIT_NAME" "$UNIT"
    fi
    mkdir -p -- "$(dirname -- "$UDEV_RULE")"
    cat >"$UDEV_RULE" <<EOF
# casahub (deploy/install.sh): the casahub group may drive LEDs (status LED, [led] path).
SUBSYSTEM=="leds", ACTION=="add", RUN+="/bin/chgrp $USER_NAME /sys%p/trigger /sys%p/brightness", RUN+="/bin/chmod g+w /sys%p/trigger /sys%p/brightness"
EOF
    chmod 0644 -- "$UDEV_RULE"
    if [[ $SYSTEM -eq 0 ]]; then
        skip "udevadm trigger, systemctl daemon-reload, enable and start"
        return
    fi
    if command -v udevadm >/dev/null 2>&1; then
        udevadm control --reload >/dev/null 2>&1 || true
        udevadm trigger --subsystem-match=leds --action=add >/dev/null 2>&1 || true
    fi
    if ! systemd_running; then
        say "systemd is not running here: enabling $UNIT_NAME for the next boot only"
        systemctl enable "$UNIT_NAME" >/dev/null 2>&1 || say "could not enable $UNIT_NAME"
        return
    fi
    systemctl daemon-reload
    systemctl enable "$UNIT_NAME"
    if [[ $START -eq 1 ]]; then
        say "(re)starting $UNIT_NAME"
        systemctl restart "$UNIT_NAME"
    else
        say "not starting $UNIT_NAME (--no-start): systemctl start $UNIT_NAME"
    fi
}

do_install() {
    check_python
    make_user
    install_venv
    install_config
    install_data_dir
    install_unit
    say "installed: $VENV/bin/casahub, config $CONFIG, data $DATA_DIR, unit $UNIT"
    if [[ $SYSTEM -eq 1 ]]; then
        say "next: sudo -u $USER_NAME $VENV/bin/casahub user add NAME --role owner --data-dir $DATA_DIR  (asks the password and codes)"
        say "logs: journalctl -u casahub -f"
    fi
}

# ----------------------------------------------------------------------------- uninstall

do_uninstall() {
    if [[ $SYSTEM -eq 1 ]] && systemd_running; then
        systemctl disable --now "$UNIT_NAME" >/dev/null 2>&1 || true
    elif [[ $SYSTEM -eq 1 ]]; then
        systemctl disable "$UNIT_NAME" >/dev/null 2>&1 || true
    else
        skip "systemctl disable --now $UNIT_NAME"
    fi
    rm -f -- "$UNIT" "$UDEV_RULE"
    rm -rf -- "$UNIT_DIR/$UNIT_NAME.d"
    if [[ $SYSTEM -eq 1 ]] && systemd_running; then
        systemctl daemon-reload
    fi
    rm -rf -- "$OPT_DIR"
    say "removed $OPT_DIR, $UNIT and $UDEV_RULE"
    if [[ $PURGE -eq 1 ]]; then
        rm -rf -- "$ETC_DIR" "$DATA_DIR"
        say "purged $ETC_DIR and $DATA_DIR"
        if [[ $SYSTEM -eq 1 ]]; then
            if getent passwd "$USER_NAME" >/dev/null; then
                userdel "$USER_NAME" || say "could not remove the user $USER_NAME"
            fi
        else
            skip "userdel $USER_NAME"
        fi
    else
        say "kept $ETC_DIR and $DATA_DIR (remove them with --uninstall --purge)"
    fi
}

case $ACTION in
    install) do_install ;;
    uninstall) do_uninstall ;;
esac
