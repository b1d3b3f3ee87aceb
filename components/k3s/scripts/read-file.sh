# read-file.sh: waits for a root-owned file K3s writes (the join token, the kubeconfig)
# and prints it. The command that runs this has logging off and its stdout secret.
# In: SOURCE READY_TIMEOUT
: "${SOURCE:?}" "${READY_TIMEOUT:?}"
wait_until "$READY_TIMEOUT" "$SOURCE" as_root test -s "$SOURCE"
as_root cat "$SOURCE"
