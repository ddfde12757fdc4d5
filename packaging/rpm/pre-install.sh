# CoLink: the service user and group, before the files are installed.
getent group colink >/dev/null || groupadd --system colink
getent passwd colink >/dev/null || useradd --system --gid colink --home-dir /var/lib/colink \
    --no-create-home --shell /sbin/nologin --comment "CoLink team chat" colink
exit 0
