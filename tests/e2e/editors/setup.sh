#!/usr/bin/env bash
# Install the editors the end-to-end tests drive: Neovim, Emacs (no X) and eglot, from Debian.
# Idempotent and non-interactive; returns at once when everything is already there.
# Exit status: 0 installed (or already there); 3 apt is missing or has no such package, the one
# case where the editor tests skip (tests/e2e/editors/support.py); anything else is a failure.
set -euo pipefail

PACKAGES=(neovim emacs-nox elpa-eglot)
NOT_INSTALLABLE=3
# Wait for another apt or dpkg run instead of failing at once on its lock.
APT_OPTIONS=(-q -o DPkg::Lock::Timeout=600)

# Outputs are captured before matching: `cmd | grep -q` under pipefail fails when grep's early
# exit gives cmd a SIGPIPE.
installed() {
  local status
  status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
  [ "$status" = "install ok installed" ]
}

eglot_built_in() {
  compgen -G "/usr/share/emacs/*/lisp/progmodes/eglot.el*" >/dev/null
}

missing=()
for package in "${PACKAGES[@]}"; do
  installed "$package" || { [ "$package" = elpa-eglot ] && eglot_built_in; } \
    || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ] && command -v nvim >/dev/null && command -v emacs >/dev/null; then
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  echo "setup-editors: no apt-get here; install ${missing[*]} by hand to run the editor tests" >&2
  exit $NOT_INSTALLABLE
fi
if [ "$(id -u)" -ne 0 ]; then
  SUDO=(sudo -n)
else
  SUDO=()
fi

has_candidate() {
  local policy
  policy=$(apt-cache policy "$1" 2>/dev/null)
  [[ "$policy" == *"Candidate: "* && "$policy" != *"Candidate: (none)"* ]]
}

export DEBIAN_FRONTEND=noninteractive
# Update the package lists only when one of the packages is unknown to them (a fresh machine).
for package in "${missing[@]}"; do
  if ! has_candidate "$package"; then
    echo "setup-editors: apt-get update" >&2
    "${SUDO[@]}" apt-get update "${APT_OPTIONS[@]}" >&2
    break
  fi
done

unknown=()
available=()
for package in "${missing[@]}"; do
  if has_candidate "$package"; then
    available+=("$package")
  elif [ "$package" = elpa-eglot ]; then
    echo "setup-editors: no elpa-eglot package; Emacs 29 and newer have eglot built in" >&2
  else
    unknown+=("$package")
  fi
done
if [ ${#unknown[@]} -gt 0 ]; then
  echo "setup-editors: no such package in the apt sources: ${unknown[*]}" >&2
  exit $NOT_INSTALLABLE
fi

[ ${#available[@]} -gt 0 ] || exit 0

# Recommends would bring a mail server and X clipboard tools; the tests need neither.
install() {
  echo "setup-editors: apt-get install ${available[*]}" >&2
  "${SUDO[@]}" apt-get install -y "${APT_OPTIONS[@]}" --no-install-recommends "${available[@]}" \
    >&2 </dev/null
}
# Old package lists can name files the mirror no longer has: refresh them once and retry.
install || { "${SUDO[@]}" apt-get update "${APT_OPTIONS[@]}" >&2 && install; }
