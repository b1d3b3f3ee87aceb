# import-images.sh: puts the image bundle's tarballs into K3s' images directory and has
# containerd import each new one (K3s before v1.31.5 / v1.32.0 imports that directory only
# when it starts; later releases also watch it, and a second import is harmless). A file
# already there with the same digest is left alone; bundle files no longer listed are
# removed from the directory (their images stay in containerd until pruned).
# In: IMAGES (lines "<sha256> <name> <staged upload>", names xgen-*.tar) READY_TIMEOUT
: "${IMAGES:?}" "${READY_TIMEOUT:?}"
dir=/var/lib/rancher/k3s/agent/images
as_root mkdir -p "$dir"
wait_until "$READY_TIMEOUT" "containerd to answer" as_root /usr/local/bin/k3s ctr version
keep=" "
imported=0
while read -r sha name staged; do
	[ -n "$name" ] || continue
	case "$name" in xgen-*.tar) ;; *) die "bundle file $name: the names are xgen-*.tar" ;; esac
	keep="$keep$name "
	if echo "$sha  $dir/$name" | as_root sha256sum -c --status 2>/dev/null; then
		continue
	fi
	echo "$sha  $staged" | sha256sum -c --status ||
		die "the uploaded $staged does not match its SHA-256; run pulumi up again to upload it again"
	as_root install -m 0644 "$staged" "$dir/$name"
	rm -f "$staged"
	as_root /usr/local/bin/k3s ctr --namespace k8s.io images import "$dir/$name" >/dev/null ||
		die "containerd could not import $name"
	imported=$((imported + 1))
	log "imported $name"
done <<LIST
$IMAGES
LIST
for f in "$dir"/xgen-*.tar; do
	[ -e "$f" ] || continue
	case "$keep" in *" ${f##*/} "*) ;; *)
		as_root rm -f "$f"
		log "removed ${f##*/} (no longer in the bundle)"
		;;
	esac
done
log "images: $imported imported"
