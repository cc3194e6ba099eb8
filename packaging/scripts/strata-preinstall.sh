#!/bin/sh
# The strata system user, which strata.service runs as and which owns /var/lib/strata; kept
# on upgrade, removed on purge (strata-postremove.sh).
set -e
if ! getent group strata >/dev/null; then
	groupadd --system strata
fi
if ! getent passwd strata >/dev/null; then
	useradd --system --gid strata --home-dir /var/lib/strata --no-create-home \
		--shell /usr/sbin/nologin --comment "strata topology service" strata
fi
