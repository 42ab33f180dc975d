#!/usr/bin/env bash
# Builds a fresh Debian root with mmdebstrap, to try mpprof as a new user
# of another release would (Debian 13 "trixie": python3.13; sid: 3.13 to
# 3.15), and enters it.  The root is mmdebstrap's minbase: what every
# Debian system has (Essential and Priority: required packages) and apt.
#
#     scripts/mkroot.sh SUITE DIR              build a root
#     scripts/mkroot.sh --run DIR CMD...       run CMD inside it (as root)
#
# The archive is the one this host's apt already uses (its sources list),
# so nothing here names a mirror.  sid's Release file can read as expired
# on archive snapshots, so apt in the root ignores Valid-Until.  Needs root
# and mmdebstrap (installed from the host's archive when missing).
set -euo pipefail

die() { echo "mkroot.sh: $*" >&2; exit 1; }

# The first Debian archive (not the security one) in the host's sources.
host_mirror() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        awk '$1 == "deb" { for (i = 2; i <= NF; i++)
                  if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' "$f"
    done
}

mount_root() {
    local d=$1 m
    # The root a mount point of its own: tools that make a mount
    # namespace of their own inside it (`ip -n NS`, which the network
    # namespace tests use, marks / a slave) fail with EINVAL on a "/"
    # that is a plain directory.
    if [ -n "${MPP_MKROOT_NS:-}" ] || ! mountpoint -q "$d"; then
        mount --bind "$d" "$d"
    fi
    for m in proc sys dev dev/pts dev/shm; do
        mkdir -p "$d/$m"
        # In a namespace of its own a run mounts afresh: a mount another
        # run left in the shared namespace may go away under it.
        if [ -n "${MPP_MKROOT_NS:-}" ] || ! mountpoint -q "$d/$m"; then
            mount --bind "/$m" "$d/$m"
        fi
    done
    cp -L /etc/resolv.conf "$d/etc/resolv.conf" 2>/dev/null || true
}

umount_root() {
    local d=$1 m
    for m in dev/shm dev/pts dev sys proc; do
        mountpoint -q "$d/$m" && umount -l "$d/$m" || true
    done
    mountpoint -q "$d" && umount -l "$d" || true
}

if [ "${1:-}" = --run ]; then
    [ $# -ge 3 ] || die "usage: $0 --run DIR CMD..."
    # Each run mounts in a mount namespace of its own, so two runs in
    # the same root at once (a suite and a benchmark) never unmount what
    # the other still uses: the namespace's mounts go with its last
    # process.  Without unshare, the mounts are shared and undone at exit.
    if [ -z "${MPP_MKROOT_NS:-}" ] && command -v unshare >/dev/null 2>&1 &&
        unshare -m --propagation private true 2>/dev/null; then
        MPP_MKROOT_NS=1 exec unshare -m --propagation private "$0" "$@"
    fi
    dir=$2; shift 2
    [ -x "$dir/bin/sh" ] || die "$dir is not a root (no bin/sh)"
    mount_root "$dir"
    [ -n "${MPP_MKROOT_NS:-}" ] || trap 'umount_root "$dir"' EXIT
    rc=0
    env -i HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        chroot "$dir" "$@" || rc=$?
    exit $rc
fi

[ $# -eq 2 ] || die "usage: $0 SUITE DIR | --run DIR CMD..."
suite=$1 dir=$2
[ "$(id -u)" -eq 0 ] || die "needs root (mmdebstrap and chroot)"
case $dir in /*) ;; *) dir=$PWD/$dir ;; esac
if [ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
    die "$dir exists and is not empty"
fi

if ! command -v mmdebstrap >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
fi

mirror=$(host_mirror | grep -v -e -security -e security\\. | grep '/debian/*$' |
         head -n1)
[ -n "$mirror" ] || die "no Debian archive in /etc/apt/sources.list*"
echo "mkroot.sh: $suite from $mirror into $dir" >&2

mkdir -p "$dir"
mmdebstrap --variant=minbase --components=main \
    --aptopt='Acquire::Check-Valid-Until "false"' \
    "$suite" "$dir" "deb $mirror $suite main"
