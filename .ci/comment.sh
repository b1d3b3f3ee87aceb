#!/usr/bin/env bash
# Builds the merge-request comment: the fleet preview matrix (with DANGER flags) and the
# rendered/ diff against the target branch, folded and cut to fit a comment.
# Usage: .ci/comment.sh <fleet-markdown-file> <target-ref> > comment.md
set -euo pipefail
matrix=$1 target=$2
limit=60000

echo "### Fleet preview"
echo
cat "$matrix"
echo
diff=$(git diff --no-color "$target" -- rendered/ || true)
if [ -z "$diff" ]; then
	echo "No change under \`rendered/\`."
	exit 0
fi
files=$(git diff --name-only "$target" -- rendered/ | wc -l)
echo "<details><summary>rendered/ diff ($files files)</summary>"
echo
echo '```diff'
if [ "${#diff}" -gt "$limit" ]; then
	printf '%s\n' "${diff:0:$limit}"
	echo "... (cut at $limit characters: see the pipeline's artifacts for the whole diff)"
else
	printf '%s\n' "$diff"
fi
echo '```'
echo "</details>"
