# write-file.sh: writes standard input to TARGET as root with MODE, never readable by others
# on the way (secrets arrive this way: never in arguments, environment or output).
# In: TARGET MODE
: "${TARGET:?}" "${MODE:?}"
as_root mkdir -p "$(dirname "$TARGET")"
# shellcheck disable=SC2016 # expanded by the inner shell
as_root sh -c 'umask 077 && cat >"$1.xgen-tmp" && chmod "$2" "$1.xgen-tmp" && mv -f "$1.xgen-tmp" "$1"' sh "$TARGET" "$MODE"
log "wrote $TARGET ($MODE)"
