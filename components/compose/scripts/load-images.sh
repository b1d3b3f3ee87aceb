# load-images.sh: `docker load`s the image bundle's compose images on this host (a closed
# network has no registry to pull them from). An image whose digest this host loaded
# already is skipped (a marker per file under DATA_DIR/images).
# In: IMAGES (lines "<sha256> <name> <staged upload>")
: "${IMAGES:?}"
as_root mkdir -p "$DATA_DIR/images"
loaded=0
while read -r sha name staged; do
	[ -n "$name" ] || continue
	marker="$DATA_DIR/images/$name.sha256"
	[ "$(as_root cat "$marker" 2>/dev/null || true)" = "$sha" ] && continue
	echo "$sha  $staged" | sha256sum -c --status ||
		die "the uploaded $staged does not match its SHA-256; run pulumi up again to upload it again"
	as_root docker load --input "$staged" >/dev/null || die "docker could not load $name"
	printf '%s\n' "$sha" | as_root tee "$marker" >/dev/null
	rm -f "$staged"
	loaded=$((loaded + 1))
	log "loaded $name"
done <<LIST
$IMAGES
LIST
log "images: $loaded loaded"
