#!/bin/sh
# redis-entrypoint.sh: starts redis-server with the password in a config file on a tmpfs,
# never on its command line. Every byte of the password is written as \xHH inside a
# double-quoted config string, so quotes, spaces and backslashes need no other escaping.
# In (container environment): REDISCLI_AUTH (the password; redis-cli reads it too)
# XGEN_REDIS_MAXMEMORY XGEN_REDIS_POLICY XGEN_REDIS_CONFIG_DIR. Arguments go to redis-server.
set -eu
: "${REDISCLI_AUTH:?}" "${XGEN_REDIS_MAXMEMORY:?}" "${XGEN_REDIS_POLICY:?}" "${XGEN_REDIS_CONFIG_DIR:?}"
umask 077
conf="$XGEN_REDIS_CONFIG_DIR/redis.conf"
hex=$(printf '%s' "$REDISCLI_AUTH" | od -An -v -tx1 | tr -d ' \n' | sed 's/../\\x&/g')
{
	printf 'requirepass "%s"\n' "$hex"
	printf 'appendonly yes\n'
	printf 'maxmemory %s\n' "$XGEN_REDIS_MAXMEMORY"
	printf 'maxmemory-policy %s\n' "$XGEN_REDIS_POLICY"
} >"$conf" # data: the image's working directory /data (the volume)
if [ "$(id -u)" -eq 0 ] && command -v su-exec >/dev/null 2>&1; then
	chown redis "$conf" 2>/dev/null || true
	exec su-exec redis redis-server "$conf" "$@"
fi
exec redis-server "$conf" "$@"
