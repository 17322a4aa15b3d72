#!/bin/sh
# /init of the L2 guest (busybox only). Prints machine-parsable "L2-..." lines about
# the machine it finds, then ends as /proc/cmdline asks:
#   lab.input=1        print L2-INPUT-READY, read one console line, echo it back
#   lab.end=poweroff   poweroff -f (the default)
#   lab.end=reboot     reboot -f
#   lab.end=shell      interactive shell on the console; poweroff -f when it exits
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null

cmdline_value() {   # KEY -> value of the first KEY=value word on the kernel cmdline
	for w in $(cat /proc/cmdline); do
		case $w in "$1"=*) echo "${w#*=}"; return ;; esac
	done
}

echo "L2-USERSPACE-OK"
echo "L2-NPROC $(nproc)"
echo "L2-MEMTOTAL-KB $(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
echo "L2-CMDLINE $(cat /proc/cmdline)"
echo "L2-UPTIME $(cut -d' ' -f1 /proc/uptime)"

if [ "$(cmdline_value lab.input)" = 1 ]; then
	# Canonical mode, no echo: the only copy of the line is ours.
	stty -echo 2>/dev/null
	echo "L2-INPUT-READY"
	if read -t 60 -r line; then echo "L2-INPUT-GOT $line"; else echo "L2-INPUT-NONE"; fi
fi

case $(cmdline_value lab.end) in
reboot)
	echo "L2-END reboot"
	reboot -f ;;
shell)
	# Said by the shell itself, once it is about to read: input sent on this
	# cue is not echoed early by the tty.
	mkdir -p /etc
	echo 'echo "L2-SHELL-READY (poweroff -f or exit to leave)"' >/etc/profile
	setsid cttyhack sh -l
	poweroff -f ;;
*)
	echo "L2-END poweroff"
	poweroff -f ;;
esac
