# up.sh: starts (or updates) the project and waits until every service is healthy, then
# runs the database init again (a rotated password converges: the image runs initdb only on
# an empty data directory) and creates the buckets.
# In: WAIT_TIMEOUT (seconds) INIT_DB (true|false) INIT_BUCKETS (true|false)
: "${WAIT_TIMEOUT:?}" "${INIT_DB:?}" "${INIT_BUCKETS:?}"
as_root test -f "$DATA_DIR/.env" || die "$DATA_DIR/.env is missing"
# A volume keeps the device it was made with: after a move to another dataDir on this host the
# project's volumes would still bind the old place's directories. Volumes whose device is not
# under DATA_DIR are made again (they only bind a directory: the data stays where it is), once
# the containers using them are stopped.
stale=""
for volume in $(as_root docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT"); do
	device=$(as_root docker volume inspect --format '{{index .Options "device"}}' "$volume")
	case "$device" in
	"$DATA_DIR"/volumes/*) ;;
	*) stale="$stale $volume" ;;
	esac
done
if [ -n "$stale" ]; then
	dc down --remove-orphans
	# shellcheck disable=SC2086 # one word per volume
	as_root docker volume rm $stale >/dev/null
	log "volumes that bound another place's data made again for $DATA_DIR:$stale"
fi
dc up --detach --wait --wait-timeout "$WAIT_TIMEOUT" --remove-orphans ||
	die "the project did not become healthy in ${WAIT_TIMEOUT}s; see: sudo docker compose -p $PROJECT ps; sudo docker compose -p $PROJECT logs"
if [ "$INIT_DB" = true ]; then
	dc exec -T postgres sh /docker-entrypoint-initdb.d/10-xgen-app.sh
fi
if [ "$INIT_BUCKETS" = true ]; then
	dc --profile init run --rm minio-init
fi
log "project $PROJECT up"
