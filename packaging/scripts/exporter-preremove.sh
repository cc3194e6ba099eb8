#!/bin/sh
# Stops and disables strata-exporter.service when the package is removed, not upgraded (deb: remove;
# rpm: 0 packages left), where systemd runs.
set -e
if [ "$1" = remove ] || [ "$1" = 0 ]; then
	if [ -d /run/systemd/system ]; then
		systemctl disable --now strata-exporter.service >/dev/null 2>&1 || true
	fi
fi
