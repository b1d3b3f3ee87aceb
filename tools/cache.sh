# Sourced by the tools/install*.sh scripts: a cache of built tools outside the work tree, so
# that another clone on the same machine (CI's fresh clone, a second checkout) restores a tool
# in seconds instead of compiling it again. An entry is keyed by the digest each script already
# computes from everything its build reads (tools/versions.env, the wrapper module's go.mod and
# go.sum, the script, the vendored sources), so a bump or an edit never restores a stale build.
# A build from nothing still works: an empty or missing cache only means the build runs.
#   XGEN_TOOLS_CACHE  the cache's directory (default ~/.cache/xgen-infra/tools, or under
#                     $XDG_CACHE_HOME); "off" builds every time and saves nothing
# shellcheck shell=bash

tools_cache=${XGEN_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xgen-infra/tools}

# cache_restore NAME KEY OUT PATH...: copies the cached PATHs (relative to OUT) of entry
# NAME-KEY into OUT. Fails (status 1, nothing copied) when there is no complete entry.
cache_restore() {
	local name=$1 key=$2 out=$3 entry p
	shift 3
	[[ $tools_cache != off ]] || return 1
	entry="$tools_cache/$name-$key"
	[[ -f $entry/.complete ]] || return 1
	for p in "$@"; do
		[[ -e $entry/$p ]] || return 1
	done
	for p in "$@"; do
		mkdir -p "$(dirname "$out/$p")"
		rm -rf "${out:?}/$p"
		# A copy, not a hard link: a later build into OUT must never write through into the cache.
		cp -a "$entry/$p" "$out/$p"
	done
	echo "tools: $name restored from the tools cache ($entry)"
}

# cache_save NAME KEY OUT PATH...: stores the PATHs (relative to OUT) as entry NAME-KEY and
# removes NAME's older entries. Written aside and renamed into place, so a run that dies half
# way, or two clones saving at once, never leave a partial entry. Never fails the build.
cache_save() {
	local name=$1 key=$2 out=$3 entry tmp p old
	shift 3
	[[ $tools_cache != off ]] || return 0
	entry="$tools_cache/$name-$key"
	[[ -f $entry/.complete ]] && return 0
	mkdir -p "$tools_cache" || return 0
	tmp=$(mktemp -d "$tools_cache/.$name-XXXXXX") || return 0
	for p in "$@"; do
		if ! { mkdir -p "$(dirname "$tmp/$p")" && cp -a "$out/$p" "$tmp/$p"; }; then
			rm -rf "$tmp"
			echo "tools: could not save $name in the tools cache" >&2
			return 0
		fi
	done
	touch "$tmp/.complete"
	if mv -T "$tmp" "$entry" 2>/dev/null; then
		for old in "$tools_cache/$name"-*; do
			[[ $old == "$entry" ]] || rm -rf "$old"
		done
		echo "tools: $name saved in the tools cache ($entry)"
	else
		rm -rf "$tmp" # another run saved the same entry first
	fi
}

# elapsed SECONDS: "3 min 20 s".
elapsed() {
	printf '%d min %d s' $(($1 / 60)) $(($1 % 60))
}
