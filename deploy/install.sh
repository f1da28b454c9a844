#!/usr/bin/env bash
# Install (or upgrade, or roll back, or remove) casahub on Raspberry Pi OS / Debian bookworm or later.
#
#   sudo deploy/install.sh                 install, or upgrade: run it again after `git pull`
#   sudo deploy/install.sh --rollback      back to the version before the last upgrade, its data restored
#   sudo deploy/install.sh --no-start      install without (re)starting the service
#   sudo deploy/install.sh --uninstall     remove the program and the service; keep config and data
#   sudo deploy/install.sh --uninstall --purge   also remove /etc/casahub, /var/lib/casahub and the user
#   deploy/install.sh --prefix DIR         everything under DIR (tests, images): no user, no systemctl
#   deploy/install.sh --prefix DIR --systemctl   ... but start the service with the systemctl on PATH
#
# An upgrade never touches the venv the running daemon uses: it installs into a new venv
# /opt/casahub/venvs/VERSION-TIME from the lock file (requirements/runtime.txt, exact versions
# and hashes), checks the config with it, stops the service, takes a `casahub backup` of the
# data dir (the new version may migrate the database), points /opt/casahub/current at the new
# venv and starts the service. If /api/v1/health does not answer 200 within --health-timeout
# seconds (60), it rolls back by itself: the old venv, the backup restored. The current venv,
# the one before it and two more stay; older ones go.
#
# Also: a `casahub` system user (in the bluetooth, dialout and gpio groups that exist), the
# config /etc/casahub/casahub.toml (the documented defaults; never overwritten), the data dir
# /var/lib/casahub (0750, owned by casahub), udev rules for the status LED (and for
# /dev/gpiochip* where there is no gpio group), BlueZ's experimental mode (passive BTHome
# scanning) and the systemd unit casahub.service, enabled and (re)started.
#
# Environment: PYTHON (default python3, at least 3.11), PIP_* as pip itself reads them.
set -euo pipefail
# set -e inside $(...) too: a failing step of build_venv fails the install.
shopt -s inherit_errexit

readonly UNIT_NAME=casahub.service
readonly USER_NAME=casahub
readonly DEVICE_GROUPS=(bluetooth dialout gpio)
readonly KEEP_VENVS=3
# piwheels: Raspberry Pi OS's own wheel index, for 32-bit (armv7l) where PyPI has no wheel of
# argon2-cffi-bindings, cffi, dbus-fast, gpiod, msgspec or pillow. Its builds are not the
# files whose hashes the lock holds: there the versions stay pinned, the hashes are not checked.
readonly PIWHEELS=https://www.piwheels.org/simple
# What piwheels' pillow links against (apt names in bookworm and trixie).
readonly ARMV7_LIBS=(libjpeg62-turbo libopenjp2-7 libtiff6 libxcb1 libfreetype6 liblcms2-2 libwebp7 libwebpmux3 libwebpdemux2)

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly SRC
PYTHON=${PYTHON:-python3}
PREFIX=""
ACTION=install
PURGE=0
START=1
USE_SYSTEMCTL=0
HEALTH_TIMEOUT=60
LOCK=$SRC/requirements/runtime.txt
MACHINE=$(uname -m)

usage() {
    sed -n '2,27s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
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
        --rollback) ACTION=rollback; shift ;;
        --purge) PURGE=1; shift ;;
        --no-start) START=0; shift ;;
        --systemctl) USE_SYSTEMCTL=1; shift ;;
        --lock)
            [[ $# -ge 2 && -f $2 ]] || die "--lock needs a requirements file"
            LOCK=$(cd -- "$(dirname -- "$2")" && pwd)/$(basename -- "$2")
            shift 2
            ;;
        --health-timeout)
            [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || die "--health-timeout needs a number of seconds"
            HEALTH_TIMEOUT=$2
            shift 2
            ;;
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

# Privileged steps (user, ownership, apt, udev) only for a real install as root.
SYSTEM=0
if [[ -z $PREFIX ]]; then
    [[ $EUID -eq 0 ]] || die "run as root (sudo $0), or give --prefix DIR to install under DIR"
    SYSTEM=1
fi

readonly OPT_DIR=$PREFIX/opt/casahub
readonly VENVS=$OPT_DIR/venvs
readonly CURRENT=$OPT_DIR/current
# /opt/casahub/venv: the path of casahub before versioned venvs; kept as a link to current
# for the commands people already typed (and drop-ins that name it).
readonly LEGACY=$OPT_DIR/venv
# Pre-upgrade backups: root's only (they hold password hashes and keys in the clear).
readonly BACKUPS=$OPT_DIR/backups
readonly ETC_DIR=$PREFIX/etc/casahub
readonly CONFIG=$ETC_DIR/casahub.toml
readonly DATA_DIR=$PREFIX/var/lib/casahub
readonly UNIT_DIR=$PREFIX/etc/systemd/system
readonly UNIT=$UNIT_DIR/$UNIT_NAME
readonly UDEV_DIR=$PREFIX/etc/udev/rules.d
readonly UDEV_RULE=$UDEV_DIR/90-casahub-led.rules
readonly UDEV_GPIO_RULE=$UDEV_DIR/90-casahub-gpio.rules
readonly BLUEZ_DROPIN=$UNIT_DIR/bluetooth.service.d/casahub-experimental.conf

skip() {
    say "skipped (${PREFIX:+--prefix}${PREFIX:+ }${PREFIX:-not root}): $*"
}

systemd_running() {
    [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1
}

# Whether this run starts and stops the service: a real install on a running systemd, or
# --systemctl (a prefix with a systemctl of its own on PATH: the deploy tests).
manages_service() {
    if [[ $USE_SYSTEMCTL -eq 1 ]]; then
        command -v systemctl >/dev/null 2>&1 || die "--systemctl: no systemctl on PATH"
        return 0
    fi
    [[ $SYSTEM -eq 1 ]] && systemd_running
}

service_active() {
    manages_service && systemctl is-active --quiet "$UNIT_NAME"
}

# The venv a link points at, as an absolute path ("" when there is none).
link_target() {
    [[ -L $1 ]] || return 0
    local target
    target=$(readlink -- "$1")
    [[ $target == /* ]] || target=$(dirname -- "$1")/$target
    [[ -d $target ]] && (cd -- "$target" && pwd -P)
    return 0
}

# Point link $1 at venv $2 in one rename, so there is never a moment without it.
switch_link() {
    local rel
    rel=${2#"$OPT_DIR"/}
    ln -sfn -- "$rel" "$1.new"
    mv -fT -- "$1.new" "$1"
}

# `key=value` lines each versioned venv keeps about the install that made it.
record_get() {
    local file=$1/.casahub-install
    [[ -f $file ]] || return 0
    sed -n "s/^$2=//p" -- "$file" | tail -n 1
}

# ----------------------------------------------------------------------------- system packages

apt_prepare() {
    if [[ $SYSTEM -eq 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        [[ $SYSTEM -eq 0 ]] && skip "apt-get update and install"
        return 0
    fi
    local wanted=()
    "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 || wanted+=(python3-venv)
    if [[ $MACHINE == armv7l || $MACHINE == armv6l ]]; then
        wanted+=("${ARMV7_LIBS[@]}")
    fi
    [[ ${#wanted[@]} -gt 0 ]] || return 0
    # A stale package list names versions the mirror no longer has: refresh it first.
    say "apt-get update, then installing ${wanted[*]}"
    apt-get update -qq
    local available=() pkg
    for pkg in "${wanted[@]}"; do
        if apt-cache show "$pkg" >/dev/null 2>&1; then available+=("$pkg"); else say "no package $pkg here"; fi
    done
    [[ ${#available[@]} -eq 0 ]] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${available[@]}"
}

check_python() {
    command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found: apt-get install python3"
    "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
        || die "casahub needs Python 3.11 or later ($PYTHON is $("$PYTHON" -V 2>&1))"
    "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 \
        || die "$PYTHON cannot make a venv: apt-get install python3-venv"
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

# ----------------------------------------------------------------------------- the venv

# The version in pyproject.toml of the tree being installed.
source_version() {
    sed -n 's/^version *= *"\([^"]*\)".*/\1/p' -- "$SRC/pyproject.toml" | head -n 1
}

# A new venv with the locked dependencies and this tree; prints its path. Nothing running uses it yet.
build_venv() {
    local version stamp venv build
    version=$(source_version)
    [[ -n $version ]] || die "no version in $SRC/pyproject.toml"
    stamp=$(date +%Y%m%d-%H%M%S)
    venv=$VENVS/$version-$stamp
    [[ ! -e $venv ]] || venv=$venv-$$
    mkdir -p -- "$VENVS"
    say "creating the venv $venv" >&2
    "$PYTHON" -m venv "$venv"
    # Build from a copy, so the source tree gets no build/ or *.egg-info from pip.
    build=$(mktemp -d)
    # shellcheck disable=SC2064  # expand now: both are local
    trap "rm -rf -- '$build'; rm -rf -- '$venv'" EXIT
    cp -R -- "$SRC/pyproject.toml" "$SRC/README.md" "$SRC/alarms" "$SRC/drivers" "$SRC/hub" "$build/"
    find "$build" -name __pycache__ -type d -prune -exec rm -rf {} +
    local pip=("$venv/bin/python" -m pip --disable-pip-version-check install --quiet)
    if [[ $MACHINE == armv7l || $MACHINE == armv6l ]]; then
        # The same versions, from piwheels: its builds' hashes are not the lock's (README).
        say "32-bit ARM: installing the locked versions from piwheels without their hashes" >&2
        sed -e '/^ *--hash=/d' -e 's/ *\\$//' -- "$LOCK" >"$build/lock-no-hashes.txt"
        "${pip[@]}" --extra-index-url "$PIWHEELS" -r "$build/lock-no-hashes.txt" >&2
    else
        say "installing the locked dependencies ($(basename -- "$LOCK"), hashes checked)" >&2
        "${pip[@]}" --require-hashes -r "$LOCK" >&2
    fi
    # casahub itself: no dependency of its own choosing, built with the locked setuptools.
    "${pip[@]}" --no-deps --no-build-isolation "$build" >&2
    "$venv/bin/casahub" --help >/dev/null
    rm -rf -- "$build"
    trap - EXIT
    printf '%s\n' "$venv"
}

prune_venvs() {
    local current previous keep=0 venv name
    current=$(link_target "$CURRENT")
    previous=$(record_get "$current" previous)
    # Newest first; the current one and the one it rolls back to always stay.
    while IFS= read -r venv; do
        [[ -n $venv ]] || continue
        name=$(basename -- "$venv")
        if [[ $venv == "$current" || $venv == "$previous" ]]; then
            continue
        fi
        keep=$((keep + 1))
        if [[ $keep -ge $KEEP_VENVS ]]; then
            say "removing the old venv $venv"
            rm -rf -- "$venv"
            rm -f -- "$BACKUPS/before-$name.chb"
        fi
    done < <(find "$VENVS" -mindepth 1 -maxdepth 1 -type d -printf '%T@ %p\n' 2>/dev/null | sort -rn | cut -d' ' -f2-)
}

# ----------------------------------------------------------------------------- config, data, unit

install_config() {
    local venv=$1
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
    "$venv/bin/casahub" config check "$CONFIG"
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

install_udev_rules() {
    mkdir -p -- "$UDEV_DIR"
    cat >"$UDEV_RULE" <<RULE
# casahub (deploy/install.sh): the casahub group may drive LEDs (status LED, [led] path).
SUBSYSTEM=="leds", ACTION=="add", RUN+="/bin/chgrp $USER_NAME /sys%p/trigger /sys%p/brightness", RUN+="/bin/chmod g+w /sys%p/trigger /sys%p/brightness"
RULE
    chmod 0644 -- "$UDEV_RULE"
    # Raspberry Pi OS gives /dev/gpiochip* to its gpio group; elsewhere (Debian on a Pi or
    # another board) nobody but root may open them, so the casahub group gets them.
    if [[ $SYSTEM -eq 1 ]] && getent group gpio >/dev/null; then
        rm -f -- "$UDEV_GPIO_RULE"
    else
        cat >"$UDEV_GPIO_RULE" <<RULE
# casahub (deploy/install.sh): there is no gpio group here, so the casahub group may open the
# GPIO chips (gpio driver, [led] line, GPIO outputs).
SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="$USER_NAME", MODE="0660"
RULE
        chmod 0644 -- "$UDEV_GPIO_RULE"
    fi
    if [[ $SYSTEM -eq 1 ]] && command -v udevadm >/dev/null 2>&1; then
        udevadm control --reload >/dev/null 2>&1 || true
        udevadm trigger --subsystem-match=leds --action=add >/dev/null 2>&1 || true
        udevadm trigger --subsystem-match=gpio --action=add >/dev/null 2>&1 || true
    fi
}

# Passive BLE scanning (the bthome driver's default) needs BlueZ's advertisement monitors,
# experimental in bookworm's BlueZ 5.66: bluetoothd --experimental. Without it the driver
# scans actively instead and says so in the log (drivers/bthome/driver.py).
install_bluez_experimental() {
    local bluetoothd=""
    if [[ $SYSTEM -eq 1 ]]; then
        local candidate
        for candidate in /usr/libexec/bluetooth/bluetoothd /usr/lib/bluetooth/bluetoothd; do
            [[ -x $candidate ]] && { bluetoothd=$candidate; break; }
        done
        if [[ -z $bluetoothd ]]; then
            say "BlueZ is not installed: BTHome sensors need it (apt-get install bluez), then run this again"
            return 0
        fi
    else
        bluetoothd=/usr/libexec/bluetooth/bluetoothd
    fi
    mkdir -p -- "$(dirname -- "$BLUEZ_DROPIN")"
    local text
    text=$(printf '%s\n' \
        "# casahub (deploy/install.sh): BlueZ's experimental interfaces, for passive BLE scanning." \
        "[Service]" "ExecStart=" "ExecStart=$bluetoothd --experimental")
    if [[ -f $BLUEZ_DROPIN && $(cat -- "$BLUEZ_DROPIN") == "$text" ]]; then
        return 0
    fi
    printf '%s\n' "$text" >"$BLUEZ_DROPIN"
    chmod 0644 -- "$BLUEZ_DROPIN"
    if [[ $SYSTEM -eq 1 ]] && systemd_running; then
        say "restarting bluetooth.service with --experimental (passive BTHome scanning)"
        systemctl daemon-reload
        systemctl try-restart bluetooth.service || say "bluetooth.service did not restart: reboot once"
    fi
}

install_unit() {
    mkdir -p -- "$UNIT_DIR"
    if [[ -n $PREFIX ]]; then
        # Point the unit at the files under the prefix, so it can be verified (and run) there.
        sed -e "s|/opt/casahub|$PREFIX/opt/casahub|g" \
            -e "s|/etc/casahub|$PREFIX/etc/casahub|g" \
            -e "s|/var/lib/casahub|$PREFIX/var/lib/casahub|g" \
            -- "$SRC/deploy/$UNIT_NAME" >"$UNIT.tmp"
        chmod 0644 -- "$UNIT.tmp"
        mv -f -- "$UNIT.tmp" "$UNIT"
    else
        install -m 0644 -- "$SRC/deploy/$UNIT_NAME" "$UNIT"
    fi
    if manages_service; then
        systemctl daemon-reload
        systemctl enable "$UNIT_NAME" >/dev/null 2>&1 || say "could not enable $UNIT_NAME"
    elif [[ $SYSTEM -eq 1 ]]; then
        say "systemd is not running here: enabling $UNIT_NAME for the next boot only"
        systemctl enable "$UNIT_NAME" >/dev/null 2>&1 || say "could not enable $UNIT_NAME"
    else
        skip "systemctl daemon-reload, enable and start"
    fi
}

# ----------------------------------------------------------------------------- switch, health, rollback

wait_healthy() {
    "$PYTHON" "$SRC/deploy/wait_healthy.py" --config "$CONFIG" --timeout "$HEALTH_TIMEOUT"
}

# `casahub backup` of the data dir by venv $1 (the version that wrote it) into $2.
take_backup() {
    mkdir -p -- "$BACKUPS"
    chmod 0700 -- "$BACKUPS"
    (umask 077 && "$1/bin/python" -m hub.cli backup "$2" --data-dir "$DATA_DIR") >/dev/null
}

# Stop, restore $backup with venv $to, point current at it, start. Used by both rollbacks.
roll_back_to() {
    local to=$1 backup=$2 from
    from=$(link_target "$CURRENT")
    if service_active; then
        systemctl stop "$UNIT_NAME"
    fi
    if [[ -n $from && -e $DATA_DIR/casahub.db ]]; then
        # What the newer version made of the data, kept in case the rollback was a mistake.
        take_backup "$from" "$BACKUPS/rolled-back-$(basename -- "$from").chb" \
            || say "could not back up what $(basename -- "$from") left (it may not open it)"
    fi
    switch_link "$CURRENT" "$to"
    if [[ -n $backup ]]; then
        say "restoring $backup (taken before $(basename -- "$from") was installed)"
        # A daemon that just failed may still be letting go of the database: a few tries.
        local try
        for try in 1 2 3 4 5 6; do
            "$to/bin/python" -m hub.cli restore "$backup" --data-dir "$DATA_DIR" --yes >/dev/null && break
            [[ $try -lt 6 ]] || die "could not restore $backup with $to: restore it by hand (README, Backup and restore)"
            sleep 2
        done
    fi
    if manages_service && [[ $START -eq 1 ]]; then
        systemctl start "$UNIT_NAME"
        wait_healthy || die "the rolled-back version $(basename -- "$to") is not healthy either: journalctl -u casahub"
    fi
    say "rolled back to $(basename -- "$to")"
}

# After a venv from before versioned venvs: move it among the others (the service is stopped).
adopt_legacy_venv() {
    if [[ -d $LEGACY && ! -L $LEGACY ]]; then
        local moved
        moved=$VENVS/legacy-$(date +%Y%m%d-%H%M%S)
        mkdir -p -- "$VENVS"
        mv -- "$LEGACY" "$moved"
        # Its scripts name /opt/casahub/venv/bin/python, which stays valid through the links.
        switch_link "$LEGACY" "$CURRENT"
        switch_link "$CURRENT" "$moved"
    fi
}

do_install() {
    apt_prepare
    check_python
    make_user
    local new old backup=""
    new=$(build_venv)
    # shellcheck disable=SC2064  # expand now: it is local
    trap "rm -rf -- '$new'" EXIT
    if ! install_config "$new"; then
        die "$CONFIG is not valid (see above): fix it, then run this script again"
    fi
    install_data_dir
    install_udev_rules
    install_bluez_experimental
    install_unit
    local was_active=0
    if service_active; then
        was_active=1
        say "stopping $UNIT_NAME"
        systemctl stop "$UNIT_NAME"
    fi
    adopt_legacy_venv
    old=$(link_target "$CURRENT")
    if [[ -n $old && -e $DATA_DIR/casahub.db ]]; then
        backup=$BACKUPS/before-$(basename -- "$new").chb
        say "backing up $DATA_DIR to $backup (before $(basename -- "$new") migrates it)"
        if ! take_backup "$old" "$backup"; then
            [[ $was_active -eq 0 ]] || systemctl start "$UNIT_NAME"
            die "the backup failed: nothing changed, $(basename -- "$old") stays"
        fi
    fi
    printf 'version=%s\ninstalled=%s\nprevious=%s\nbackup=%s\n' \
        "$(source_version)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$old" "$backup" >"$new/.casahub-install"
    switch_link "$CURRENT" "$new"
    [[ -e $LEGACY ]] || switch_link "$LEGACY" "$CURRENT"
    trap - EXIT
    if manages_service && [[ $START -eq 1 ]]; then
        say "starting $UNIT_NAME ($(basename -- "$new"))"
        systemctl start "$UNIT_NAME"
        if ! wait_healthy; then
            if [[ -z $old ]]; then
                die "$(basename -- "$new") is not healthy: journalctl -u casahub"
            fi
            say "$(basename -- "$new") is not healthy: rolling back to $(basename -- "$old")"
            roll_back_to "$old" "$backup"
            die "upgrade to $(basename -- "$new") failed; $(basename -- "$old") serves again with its data"
        fi
    elif [[ $START -eq 0 ]]; then
        say "not starting $UNIT_NAME (--no-start): systemctl start $UNIT_NAME"
    fi
    prune_venvs
    say "installed: $CURRENT -> $(basename -- "$new"), config $CONFIG, data $DATA_DIR, unit $UNIT"
    if [[ $SYSTEM -eq 1 ]]; then
        say "next: sudo -u $USER_NAME $CURRENT/bin/casahub user add NAME --role owner --data-dir $DATA_DIR  (asks the password and codes)"
        say "logs: journalctl -u casahub -f; back to the previous version: sudo $0 --rollback"
    fi
}

do_rollback() {
    check_python
    local current previous backup
    current=$(link_target "$CURRENT")
    [[ -n $current ]] || die "nothing installed in $OPT_DIR"
    previous=$(record_get "$current" previous)
    backup=$(record_get "$current" backup)
    [[ -n $previous && -x $previous/bin/python ]] \
        || die "$(basename -- "$current") has no previous version to go back to"
    [[ -z $backup || -f $backup ]] || die "the backup $backup is gone: restore one by hand, then --rollback again"
    roll_back_to "$previous" "$backup"
}

# ----------------------------------------------------------------------------- uninstall

do_uninstall() {
    if [[ $SYSTEM -eq 1 ]] && systemd_running; then
        systemctl disable --now "$UNIT_NAME" >/dev/null 2>&1 || true
    elif [[ $SYSTEM -eq 1 ]]; then
        systemctl disable "$UNIT_NAME" >/dev/null 2>&1 || true
    elif manages_service; then
        systemctl stop "$UNIT_NAME" >/dev/null 2>&1 || true
    else
        skip "systemctl disable --now $UNIT_NAME"
    fi
    rm -f -- "$UNIT" "$UDEV_RULE" "$UDEV_GPIO_RULE" "$BLUEZ_DROPIN"
    rm -rf -- "$UNIT_DIR/$UNIT_NAME.d"
    rmdir -- "$(dirname -- "$BLUEZ_DROPIN")" 2>/dev/null || true
    if [[ $SYSTEM -eq 1 ]] && systemd_running; then
        systemctl daemon-reload
    fi
    rm -rf -- "$OPT_DIR"
    say "removed $OPT_DIR (venvs and pre-upgrade backups), $UNIT and the udev rules"
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
    rollback) do_rollback ;;
    uninstall) do_uninstall ;;
esac
