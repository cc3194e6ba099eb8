#!/bin/sh
# The TSDB's directory (--storage.path), kept on upgrade; the service enabled and started on
# the first install, restarted on an upgrade, where systemd runs.
set -e
install -d -o strata -g strata -m 0750 /var/lib/strata
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null || true
	# deb: configure <old version> on an upgrade; rpm: 2 or more on an upgrade.
	if [ -n "$2" ] || [ "${1:-0}" -gt 1 ] 2>/dev/null; then
		systemctl try-restart strata.service >/dev/null || true
	else
		systemctl enable --now strata.service >/dev/null || true
	fi
fi
