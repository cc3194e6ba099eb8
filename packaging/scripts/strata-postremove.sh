#!/bin/sh
# On purge (deb), what the package made goes too: the TSDB (--storage.path) and the strata
# user. A removal, an upgrade and an rpm erase keep both.
set -e
if [ "$1" = purge ]; then
	rm -rf /var/lib/strata
	if getent passwd strata >/dev/null; then
		userdel strata || true
	fi
	if getent group strata >/dev/null; then
		groupdel strata || true
	fi
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
