#!/bin/sh
# TEST-ONLY. Runs inside a test host's own network, mount and UTS namespaces (started by
# testhosts.Start): gives the host a private view of the paths the K3s scripts write
# (overlays on /etc, /var, /srv, /usr/local, /home, /root; a fresh /run), a non-root user
# with passwordless sudo, the systemctl stand-in, the units enabled before a reboot, then
# becomes the host's sshd.
# With DIR/daemon.json the host runs Docker: Debian's dockerd (its configuration that file),
# the compose plugin DIR/docker-compose, started at every boot as an enabled docker.service.
# Usage: boot.sh DIR NAME USER GPU
set -eu
dir=$1 name=$2 user=$3 gpu=$4

for path in /etc /var /srv /usr/local /home /root; do
	layer="$dir/fs/$(echo "$path" | tr / _)"
	mkdir -p "$layer/upper" "$layer/work"
	mount -t overlay overlay -o "lowerdir=$path,upperdir=$layer/upper,workdir=$layer/work" "$path"
done
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/systemd/system /run/sshd /run/testhost /etc/systemd/system
cp "$dir/sshd_config" "$dir/ssh_host_ed25519_key" "$dir/authorized_keys" "$dir/systemctl" /run/testhost/
mount --bind /run/testhost/systemctl /usr/bin/systemctl
# /tmp stays the machine's: the checkout (and the control-plane binaries the k3s stand-in
# runs from .tools/) may live under it. The scripts write nothing there but mktemp files.
hostname "$name"
# sudo resolves the host name; without an entry it waits for DNS, which is not there.
printf '127.0.1.1\t%s\n' "$name" >>/etc/hosts

if ! id "$user" >/dev/null 2>&1; then
	useradd --create-home --shell /bin/bash "$user"
fi
usermod -p '*' "$user" # unlocked for key login (UsePAM no), no password
printf '%s ALL=(ALL) NOPASSWD:ALL\n' "$user" >"/etc/sudoers.d/$user"
chmod 0440 "/etc/sudoers.d/$user"
home=$(getent passwd "$user" | cut -d: -f6)
mkdir -p "$home/.ssh"
cp /run/testhost/authorized_keys "$home/.ssh/authorized_keys"
chown -R "$user:" "$home/.ssh"
chmod 0700 "$home/.ssh"
chmod 0600 "$home/.ssh/authorized_keys"

if [ "$gpu" = true ]; then
	# Stand-ins for the NVIDIA driver and container toolkit that preflight looks for.
	printf '#!/bin/sh\necho "GPU 0: stand-in (test host %s)"\n' "$name" >/usr/local/bin/nvidia-smi
	printf '#!/bin/sh\nexit 0\n' >/usr/local/bin/nvidia-container-runtime
	chmod 0755 /usr/local/bin/nvidia-smi /usr/local/bin/nvidia-container-runtime
fi
if [ -f "$dir/daemon.json" ]; then
	# `ip netns exec` mounted a fresh /sys for the namespace, without the machine's cgroup
	# hierarchies; the engine needs them: the same v1 hierarchies (controllers mounted together
	# stay together) and the unified one, or cgroup v2 alone where the machine has only that.
	if awk '!/^#/ && $2 != 0 { found = 1 } END { exit !found }' /proc/cgroups; then
		mount -t tmpfs -o mode=0755 cgroup /sys/fs/cgroup
		awk '!/^#/ && $2 != 0 { h[$2] = ($2 in h) ? h[$2] "," $1 : $1 } END { for (i in h) print h[i] }' /proc/cgroups |
			while read -r controllers; do
				mkdir -p "/sys/fs/cgroup/$controllers"
				mount -t cgroup -o "$controllers" cgroup "/sys/fs/cgroup/$controllers"
			done
		mkdir -p /sys/fs/cgroup/unified
		mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified
	else
		mount -t cgroup2 cgroup2 /sys/fs/cgroup
	fi
	mkdir -p /etc/docker /usr/local/lib/docker/cli-plugins /var/log
	cp "$dir/daemon.json" /etc/docker/daemon.json
	cp "$dir/docker-compose" /usr/local/lib/docker/cli-plugins/docker-compose
	# The host's docker CLI is Debian's (/usr/bin/docker), whatever this machine has in
	# /usr/local/bin: removed in the host's own /usr/local only.
	rm -f /usr/local/bin/docker
	dockerd --config-file /etc/docker/daemon.json >>/var/log/dockerd.log 2>&1 &
fi
# As systemd does at boot (a reboot: testhosts.Reboot): the units enabled before start again.
for unit in /etc/systemd/system/multi-user.target.wants/*; do
	[ -e "$unit" ] || continue
	systemctl enable --now "$(basename "$unit")" || echo "boot: $unit did not start" >&2
done
exec /usr/sbin/sshd -D -e -f /run/testhost/sshd_config
