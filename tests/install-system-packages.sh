#!/bin/sh
# Install the Debian packages the tests, the demo and the benchmarks need,
# when they are missing.  The machine's own Postfix and Dovecot are not
# started: the tests run private instances of their own.
set -eu

PACKAGES="postgresql postgresql-contrib libpq-dev gcc python3-dev python3-venv
 postfix postfix-pgsql dovecot-core dovecot-pgsql dovecot-imapd dovecot-pop3d
 dovecot-lmtpd dovecot-managesieved dovecot-sieve dovecot-submissiond gettext
 man-db util-linux zsh opendkim opendkim-tools libopendbx1-pgsql"

missing=""
for pkg in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" \
        || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages:$missing (run as root to install them)" >&2
    exit 1
fi

log=$(mktemp)
made_policy=""
cleanup() {
    rm -f "$log"
    if [ -n "$made_policy" ]; then rm -f "$policy"; fi
}
trap cleanup EXIT
# Keep package scripts from starting the system's services.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    made_policy=1
fi
echo "postfix postfix/main_mailer_type select No configuration" \
    | debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
echo "installing Debian packages:$missing"
# apt and debconf talk on stderr too ("debconf: delaying package
# configuration ..."): keep it all in a log, shown only on failure.
# shellcheck disable=SC2086
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends \
        $missing; } >"$log" 2>&1; then
    cat "$log" >&2
    exit 1
fi
