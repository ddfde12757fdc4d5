# CoLink: on removal (not on upgrade), stop and disable the service.
if [ "$1" -eq 0 ] && [ -d /run/systemd/system ]; then
    systemctl --no-reload disable --now colink.service >/dev/null 2>&1 || :
fi
exit 0
