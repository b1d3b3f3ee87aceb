# project.sh: creates the project's directories (root only, but the init scripts' directory,
# which the postgres image reads as its postgres user) and records this generation, which the
# delete script checks. Existing data is never touched.
# In: VOLUMES (space-separated) GEN
: "${VOLUMES:?}" "${GEN:?}"
as_root install -d -m 0700 -o root -g root "$DATA_DIR" "$DATA_DIR/volumes"
as_root install -d -m 0755 -o root -g root "$DATA_DIR/initdb"
for v in $VOLUMES; do
	as_root mkdir -p "$DATA_DIR/volumes/$v"
done
as_root mkdir -p "$(dirname "$MARKER")"
# shellcheck disable=SC2016 # expanded by the inner shell
printf '%s\n' "$GEN" | as_root sh -c 'umask 077 && cat >"$1"' sh "$MARKER"
# shellcheck disable=SC2016 # expanded by the inner shell
printf '%s\n' "$DATA_DIR" | as_root sh -c 'umask 077 && cat >"$1"' sh "$MARKER.data-dir"
log "project $PROJECT: $DATA_DIR ready"
