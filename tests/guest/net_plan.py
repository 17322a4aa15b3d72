"""The virtio-net check's side of run-guest-test.py (test=net): a network
namespace of its own with a TAP in it (10.0.2.2/24 on the host side, the
guest answering as 10.0.2.15), the VMM started inside it,
traffic from the namespace once the guest says READY, then STOP on the
console and the guest's per-queue counters against the TAP's. Nothing
leaves the namespace; it is deleted (with the TAP) whatever happens.
Needs root and `ip netns`; otherwise the test is skipped.

With ALIOTH_TEST_NET=user (meson sets it) the VMM gets `--net user`
instead: no namespace and no root. The guest asks libslirp's DHCP server
for an address and checks the OFFER; the runner connects to a host port
forwarded from 127.0.0.1 to the guest's TCP responder, reads its banner,
has a line echoed and closes, twice. Only loopback is used on the host.

With a tmpdir given (--vu-backend alioth) the device is our vhost-user
frontend (--net vu,socket=) and the TAP is served by `alioth vu ... net`,
started in the namespace with the MAC: the guest's MAC comes from the
backend's configuration. Guest memory from a memfd, which the backend maps."""
import json
import os
import random
import re
import shutil
import socket
import subprocess
import threading
import time

GUEST_IP = "10.0.2.15"
HOST_IPS = ["10.0.2.2"]
TAP = "tap0"
PINGS = 3
MTU_PAYLOAD = 1472          # 1500-byte IP packets, 1514-byte frames
UDP_FLOWS = 16              # two queues: all in one has odds 2**-15
CMD_TIMEOUT = 60
GUEST_TCP_PORT = 7777       # the guest's responder (tcp.c)
TCP_CONNECTIONS = 2
VU_SOCKET_WAIT = 10.0


def user_mode():
    return os.environ.get("ALIOTH_TEST_NET") == "user"


def free_loopback_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def skip_reason():
    if user_mode():
        return None
    if os.geteuid() != 0:
        return "not root: the net check creates a network namespace and a TAP"
    for tool, package in (("ip", "iproute2"), ("ping", "iputils-ping")):
        if not shutil.which(tool):
            return f"no `{tool}` command (package {package})"
    r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    if r.returncode != 0:
        return f"`ip netns` is unavailable: {r.stderr.strip()}"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun"
    return None


def random_mac():
    b = bytearray(random.randbytes(6))
    b[0] = (b[0] & 0xFE) | 0x02
    return ":".join(f"{x:02x}" for x in b)


class NetPlan:
    def __init__(self, args, words, vu_tmpdir=None):
        self.qp = args.net_qp
        self.alioth = args.alioth
        self.vu_sock = os.path.join(vu_tmpdir, "vu-net.sock") if vu_tmpdir else None
        self.backend = None    # the `alioth vu` process
        self.ns = f"alioth-test-{os.getpid()}-{random.randint(0, 1 << 20)}"
        self.mac = random_mac()
        self.created = False
        self.results = []      # (what, ok, detail) from the traffic
        self.guest = {}        # the guest's NET counters
        self.done = threading.Event()
        self.thread = None
        words += [f"net_mac=0x{self.mac.replace(':', '')}", f"net_qp={self.qp}", "net_mtu=1500"]
        self.user = user_mode()
        self.dhcp = None       # the guest's "DHCP offer" line
        self.tcp = {}          # its TCP counters
        self.echoed = 0        # bytes the runner had echoed
        if self.user:
            self.host_port = free_loopback_port()
            self.token = random.getrandbits(64)
            words += ["net_user=1", f"net_tcp_port={GUEST_TCP_PORT}", f"net_token={self.token}"]

    def ip(self, *argv, check=True):
        r = subprocess.run(["ip", "-n", self.ns, *argv], capture_output=True, text=True,
                           timeout=CMD_TIMEOUT)
        if check and r.returncode:
            raise RuntimeError(f"ip -n {self.ns} {' '.join(argv)}: {r.stderr.strip()}")
        return r

    def in_ns(self, *argv, timeout=CMD_TIMEOUT):
        return subprocess.run(["ip", "netns", "exec", self.ns, *argv], capture_output=True,
                              text=True, timeout=timeout)

    def setup(self):
        if self.user:
            return
        subprocess.run(["ip", "netns", "add", self.ns], check=True, timeout=CMD_TIMEOUT)
        self.created = True
        # no IPv6 chatter: every frame the guest sees is one this test sent
        for key in ("all", "default"):
            self.in_ns("sysctl", "-qw", f"net.ipv6.conf.{key}.disable_ipv6=1")
        self.ip("link", "set", "lo", "up")
        mq = ["multi_queue"] if self.qp > 1 else []
        self.ip("tuntap", "add", "dev", TAP, "mode", "tap", *mq)
        for addr in HOST_IPS:
            self.ip("addr", "add", f"{addr}/24", "dev", TAP)
        self.ip("link", "set", TAP, "up")
        if self.vu_sock:
            self.start_vu_backend()

    def start_vu_backend(self):
        cmd = ["ip", "netns", "exec", self.ns, self.alioth, "vu", "-s", self.vu_sock, "net",
               "-p", f"tap,if={TAP},mac={self.mac},mtu=1500,qp={self.qp}"]
        print("+ backend:", " ".join(cmd), flush=True)
        self.backend = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + VU_SOCKET_WAIT
        while not os.path.exists(self.vu_sock):
            if self.backend.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the vhost-user net backend did not listen at {self.vu_sock}")
            time.sleep(0.05)

    def stop_vu_backend(self):
        if self.backend and self.backend.poll() is None:
            self.backend.terminate()
            try:
                self.backend.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.backend.kill()
                self.backend.wait()

    def cleanup(self):
        self.stop_vu_backend()
        if self.created:
            subprocess.run(["ip", "netns", "del", self.ns], timeout=CMD_TIMEOUT)
            self.created = False

    def wrap(self, cmd):
        if self.user:
            return cmd
        if self.vu_sock:  # the backend maps guest memory: a memfd
            i = cmd.index("-m")
            cmd = cmd[:i + 1] + [cmd[i + 1] + ",backend=memfd"] + cmd[i + 2:]
        return ["ip", "netns", "exec", self.ns] + cmd

    def alioth_args(self):
        if self.user:
            fwd = f"tcp:127.0.0.1:{self.host_port}-:{GUEST_TCP_PORT}"
            return ["--net", f"user,mac={self.mac},mtu=1500,hostfwd={fwd}"]
        if self.vu_sock:
            return ["--net", f"vu,socket={self.vu_sock}"]
        # qp=1 uses Alioth's form without the variant, qp=2 the tap variant
        spec = f"if={TAP},mac={self.mac},mtu=1500"
        return ["--net", spec if self.qp == 1 else f"tap,{spec},qp={self.qp}"]

    def note(self, what, ok, detail=""):
        self.results.append((what, ok, detail))
        print(f"net: {what}: {'ok' if ok else 'FAILED'} {detail}".rstrip(), flush=True)

    def ping(self, what, *extra):
        r = self.in_ns("ping", "-n", "-c", str(PINGS), "-i", "0.2", "-W", "5", *extra, GUEST_IP)
        m = re.search(r"(\d+) received", r.stdout)
        got = int(m.group(1)) if m else 0
        bad = "wrong data" in r.stdout or "DUP!" in r.stdout
        self.note(what, r.returncode == 0 and got == PINGS and not bad,
                  f"{got}/{PINGS} replies" + (" (damaged)" if bad else "") +
                  (f"; {r.stderr.strip()[-200:]}" if r.stderr.strip() else ""))

    def udp_flows(self):
        code = ("import socket\n"
                f"for i in range({UDP_FLOWS}):\n"
                "    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                f"    s.bind(('{HOST_IPS[0]}', 40000 + i))\n"
                f"    s.sendto(b'flow %d' % i, ('{GUEST_IP}', 9))\n"
                "    s.close()\n")
        r = self.in_ns("python3", "-c", code)
        self.note("udp flows", r.returncode == 0, r.stderr.strip()[-200:])

    def read_until(self, s, end):
        data = b""
        while not data.endswith(end):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return data

    def tcp_session(self, n):
        """Banner, one echoed line, then a clean close (EOF from the guest)."""
        what = f"tcp connection {n} through the host forward"
        with socket.create_connection(("127.0.0.1", self.host_port), timeout=20) as s:
            banner = self.read_until(s, b"\r\n")
            want = f"ALIOTH-GUEST {self.token:016x}\r\n".encode()
            if banner != want:
                return self.note(what, False, f"banner {banner!r}, expected {want!r}")
            line = f"echo-{n}-{random.getrandbits(48):012x}\n".encode()
            s.sendall(line)
            echo = self.read_until(s, b"\n")
            if echo != line:
                return self.note(what, False, f"echo {echo!r}, expected {line!r}")
            self.echoed += len(line)
            s.shutdown(socket.SHUT_WR)
            rest = s.recv(4096)
            self.note(what, rest == b"", "banner, echo, close" if rest == b"" else f"after close: {rest!r}")

    def user_traffic(self):
        for n in range(TCP_CONNECTIONS):
            self.tcp_session(n)

    def traffic(self, proc):
        try:
            if self.user:
                self.user_traffic()
                return
            self.ping("ping")
            neigh = self.ip("neigh", "show", GUEST_IP, "dev", TAP).stdout
            self.note("ip neigh shows the configured MAC", f"lladdr {self.mac}" in neigh,
                      neigh.strip())
            self.ping("MTU-sized ping (1472 bytes, DF)", "-s", str(MTU_PAYLOAD), "-M", "do")
            if self.qp > 1:
                self.udp_flows()
        except Exception as e:  # a crashed step must still end the guest
            self.note("traffic", False, repr(e))
        finally:
            try:
                proc.stdin.write(b"STOP\n")
                proc.stdin.flush()
            except (OSError, AttributeError):
                pass
            self.done.set()

    def on_line(self, proc, line):
        if line.startswith("READY net") and not self.thread:
            self.thread = threading.Thread(target=self.traffic, args=(proc,), daemon=True)
            self.thread.start()
        if line.startswith("NET "):
            self.guest = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}
        if line.startswith("DHCP offer "):
            self.dhcp = line
        if line.startswith("TCP "):
            self.tcp = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}

    def tap_rx_packets(self):
        r = self.ip("-s", "-j", "link", "show", TAP, check=False)
        try:
            return json.loads(r.stdout)[0]["stats64"]["rx"]["packets"]
        except (ValueError, KeyError, IndexError):
            return None

    def problems(self):
        out = [f"{what}: {detail}" for what, ok, detail in self.results if not ok]
        if self.backend and self.backend.poll() is not None:
            out.append(f"the vhost-user net backend exited early (status {self.backend.returncode})")
        if not self.thread:
            return out + ["the guest never said READY net"]
        self.done.wait(CMD_TIMEOUT)
        g = self.guest
        if not g:
            return out + ["the guest printed no NET counters"]
        if self.user:
            return out + self.user_problems()
        if g.get("icmp", 0) < 2 * PINGS:
            out.append(f"the guest answered {g.get('icmp', 0)} echo requests, expected {2 * PINGS}")
        if g.get("big", 0) < PINGS:
            out.append(f"{g.get('big', 0)} MTU-sized echo requests reached the guest, expected {PINGS}")
        if g.get("merged", 0) < PINGS:
            out.append("MTU-sized frames were not merged over several receive buffers")
        for p in range(self.qp):
            if g.get(f"rx{p}", 0) < 1 or g.get(f"tx{p}", 0) < 1:
                out.append(f"queue pair {p}: rx{p}={g.get(f'rx{p}')} tx{p}={g.get(f'tx{p}')}")
        if self.qp > 1 and g.get("udp", 0) != UDP_FLOWS:
            out.append(f"the guest saw {g.get('udp', 0)} of {UDP_FLOWS} UDP flows")
        sent = sum(g.get(f"tx{p}", 0) for p in range(self.qp))
        seen = self.tap_rx_packets()
        print(f"net: the TAP received {seen} frames, the guest sent {sent}", flush=True)
        if seen != sent:
            out.append(f"the TAP received {seen} frames, the guest sent {sent}")
        return out

    def user_problems(self):
        out = []
        want = "DHCP offer 10.0.2.15 mask 255.255.255.0 router 10.0.2.2 dns 10.0.2.3"
        if self.dhcp != want:
            out.append(f"DHCP: got {self.dhcp!r}, expected {want!r}")
        t = self.tcp
        if (t.get("conns"), t.get("closed"), t.get("resets")) != (TCP_CONNECTIONS, TCP_CONNECTIONS, 0):
            out.append(f"the guest's TCP counters {t}: expected {TCP_CONNECTIONS} connections "
                       f"opened and closed, no reset")
        if t.get("in") != self.echoed:
            out.append(f"the guest received {t.get('in')} bytes, the runner sent {self.echoed}")
        return out
