#!/bin/sh
# The service enabled and started on the first install, restarted on an upgrade, where
# systemd runs.
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null || true
	# deb: configure <old version> on an upgrade; rpm: 2 or more on an upgrade.
	if [ -n "$2" ] || [ "${1:-0}" -gt 1 ] 2>/dev/null; then
		systemctl try-restart strata-exporter.service >/dev/null || true
	else
		systemctl enable --now strata-exporter.service >/dev/null || true
	fi
fi
