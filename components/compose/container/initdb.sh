#!/bin/sh
# initdb.sh: creates the application's role and database in the postgres container. The
# image runs it once on an empty data directory (/docker-entrypoint-initdb.d, socket only);
# the program runs it again (docker compose exec) after every change of the project, so a
# rotated password converges. Idempotent. The role gets exactly what the applications need:
# log in, and own its database; no superuser, createdb, createrole, replication or RLS bypass.
# In (container environment): POSTGRES_USER XGEN_DB XGEN_DB_USER XGEN_DB_PASSWORD, and for
# each name in XGEN_ENVIRONMENTS (the environments deployed beside the site's own) the same
# three suffixed _<NAME> (XGEN_DB_PRD ...). Passwords are read by psql's \getenv: never an
# argument.
# No `set -eu`: the image's entrypoint sources this file, and its options must stay its own.
: "${POSTGRES_USER:?}" "${XGEN_DB:?}" "${XGEN_DB_USER:?}" "${XGEN_DB_PASSWORD:?}"

# xgen_database DB ROLE PASSWORD_VARIABLE
xgen_database() {
	psql -v ON_ERROR_STOP=1 -X -q --username "$POSTGRES_USER" --dbname postgres \
		-v db="$1" -v app="$2" -v password_var="$3" <<'SQL' || return 1
\getenv app_password :password_var
SELECT format('CREATE ROLE %I', :'app')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT PASSWORD %L',
              :'app', :'app_password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'app')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', :'db', :'app') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'db') \gexec
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', :'db', :'app') \gexec
REVOKE CONNECT ON DATABASE postgres FROM PUBLIC;
REVOKE CONNECT ON DATABASE template1 FROM PUBLIC;
SQL
	echo "xgen: role $2 and database $1 ready" >&2
}

xgen_database "$XGEN_DB" "$XGEN_DB_USER" XGEN_DB_PASSWORD || exit 1
for xgen_env in ${XGEN_ENVIRONMENTS:-}; do
	xgen_suffix=$(printf '%s' "$xgen_env" | tr '[:lower:]' '[:upper:]')
	xgen_db='' xgen_user=''
	eval "xgen_db=\${XGEN_DB_$xgen_suffix:?} xgen_user=\${XGEN_DB_USER_$xgen_suffix:?}"
	xgen_database "$xgen_db" "$xgen_user" "XGEN_DB_PASSWORD_$xgen_suffix" || exit 1
done
