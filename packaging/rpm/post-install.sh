# CoLink: the data directory, and systemd told about the unit (enable it yourself:
# `systemctl enable --now colink`, as is the custom on RPM systems).
install -d -m 0700 -o colink -g colink /var/lib/colink
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
exit 0
