# mark.sh: records that the resource of generation GEN owns MARKER (see the delete scripts:
# a delete whose generation no longer owns its marker was replaced and does nothing).
# In: MARKER GEN CLEAR (a marker file to remove, or "")
: "${MARKER:?}" "${GEN:?}"
as_root mkdir -p "$(dirname "$MARKER")"
printf '%s\n' "$GEN" | as_root sh -c "cat >'$MARKER'"
if [ -n "${CLEAR-}" ]; then as_root rm -f "$CLEAR"; fi
log "marked $MARKER"
