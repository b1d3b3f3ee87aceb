# node-metadata.sh (runs on the first server): makes NODE's labels and taints what the config
# says, both ways: what an earlier run set and the config no longer has is removed (the node
# remembers what we set in two annotations).
# In: NODE LABELS ("k=v k2=v2") TAINTS ("k=v:Effect k2:Effect")
: "${NODE:?}"
LABELS=${LABELS-} TAINTS=${TAINTS-}
had_labels=$(kube get node "$NODE" -o 'jsonpath={.metadata.annotations.xgen\.ai/labels}')
had_taints=$(kube get node "$NODE" -o 'jsonpath={.metadata.annotations.xgen\.ai/taints}')
for old in $had_labels; do
	key=${old%%=*}
	case " $LABELS " in *" $key="*) ;; *) kube label node "$NODE" "$key-" >/dev/null ;; esac
done
for old in $had_taints; do
	case " $TAINTS " in *" $old "*) ;; *) kube taint node "$NODE" "$old-" >/dev/null 2>&1 || true ;; esac
done
for label in $LABELS; do kube label node "$NODE" --overwrite "$label" >/dev/null; done
for taint in $TAINTS; do kube taint node "$NODE" --overwrite "$taint" >/dev/null; done
kube annotate node "$NODE" --overwrite "xgen.ai/labels=$LABELS" "xgen.ai/taints=$TAINTS" >/dev/null
log "node $NODE: labels [$LABELS] taints [$TAINTS]"
