# up.sh: starts (or updates) the project and waits until every service is healthy, then
# runs the database init again (a rotated password converges: the image runs initdb only on
# an empty data directory) and creates the buckets.
# In: WAIT_TIMEOUT (seconds) INIT_DB (true|false) INIT_BUCKETS (true|false)
: "${WAIT_TIMEOUT:?}" "${INIT_DB:?}" "${INIT_BUCKETS:?}"
as_root test -f "$DATA_DIR/.env" || die "$DATA_DIR/.env is missing"
dc up --detach --wait --wait-timeout "$WAIT_TIMEOUT" --remove-orphans ||
	die "the project did not become healthy in ${WAIT_TIMEOUT}s; see: sudo docker compose -p $PROJECT ps; sudo docker compose -p $PROJECT logs"
if [ "$INIT_DB" = true ]; then
	dc exec -T postgres sh /docker-entrypoint-initdb.d/10-xgen-app.sh
fi
if [ "$INIT_BUCKETS" = true ]; then
	dc --profile init run --rm minio-init
fi
log "project $PROJECT up"
