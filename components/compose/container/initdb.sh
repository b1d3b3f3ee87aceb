#!/bin/sh
# initdb.sh: creates the application's role and database in the postgres container. The
# image runs it once on an empty data directory (/docker-entrypoint-initdb.d, socket only);
# the program runs it again (docker compose exec) after every change of the project, so a
# rotated password converges. Idempotent. The role gets exactly what the applications need:
# log in, and own its database; no superuser, createdb, createrole, replication or RLS bypass.
# In (container environment): POSTGRES_USER XGEN_DB XGEN_DB_USER XGEN_DB_PASSWORD (the
# password is read by psql's \getenv: never an argument).
# No `set -eu`: the image's entrypoint sources this file, and its options must stay its own.
: "${POSTGRES_USER:?}" "${XGEN_DB:?}" "${XGEN_DB_USER:?}" "${XGEN_DB_PASSWORD:?}"
psql -v ON_ERROR_STOP=1 -X -q --username "$POSTGRES_USER" --dbname postgres \
	-v db="$XGEN_DB" -v app="$XGEN_DB_USER" <<'SQL' || exit 1
\getenv app_password XGEN_DB_PASSWORD
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
echo "xgen: role $XGEN_DB_USER and database $XGEN_DB ready" >&2
