#include "cli/specs.h"

#include <stddef.h>
#include <stdint.h>

#include "board/config.h"

static const struct aco_field kvm_fields[] = {
	{ .name = "dev_kvm", .kind = ACO_STRING, .offset = offsetof(struct hv_spec, dev_kvm),
	  .dflt = "/dev/kvm", .optional = true, .doc = "Path of the KVM device node." },
	{ .name = "dev_sev", .kind = ACO_STRING, .offset = offsetof(struct hv_spec, dev_sev),
	  .optional = true, .doc = "Path of the AMD SEV device node. [default: /dev/sev]" },
};
static const struct aco_struct kvm_spec = ACO_TABLE("KvmSpec", kvm_fields);

static const struct aco_variant hv_variants[] = {
	{ .name = "kvm", .alias = "Kvm", .value = HV_KVM,
	  .doc = "KVM, provided by the Linux kernel.", .payload = &kvm_spec },
};
static const struct aco_enum hv_enum = ACO_TABLE("HvSpec", hv_variants);

const struct aco_field spec_hypervisor = {
	.kind = ACO_ENUM, .offset = offsetof(struct hv_spec, kind), .sub_enum = &hv_enum,
};

static const struct aco_field topology_fields[] = {
	{ .name = "smt", .kind = ACO_BOOL, .offset = offsetof(struct cpu_topology, smt),
	  .dflt = "false", .doc = "Two hardware threads per core (SMT, Hyper-Threading)." },
	{ .name = "cores", .kind = ACO_U16, .offset = offsetof(struct cpu_topology, cores),
	  .dflt = "0", .doc = "Cores in each socket; 0 derives it from count." },
	{ .name = "sockets", .kind = ACO_U8, .offset = offsetof(struct cpu_topology, sockets),
	  .dflt = "0", .doc = "Number of sockets; 0 means 1." },
	{ .name = "thread_contiguous", .kind = ACO_BOOL,
	  .offset = offsetof(struct cpu_topology, thread_contiguous), .dflt = "false",
	  .doc = "With SMT, give sibling threads adjacent CPU IDs." },
};
static const struct aco_struct topology_spec = ACO_TABLE("CpuTopology", topology_fields);

static const struct aco_field cpu_fields[] = {
	{ .name = "count", .kind = ACO_U16, .offset = offsetof(struct cpu_config, count),
	  .dflt = "1", .doc = "How many vCPUs the guest gets." },
	{ .name = "topology", .kind = ACO_STRUCT, .offset = offsetof(struct cpu_config, topology),
	  .dflt = "", .doc = "How the vCPUs are arranged in sockets, cores and threads.",
	  .sub_struct = &topology_spec },
};
static const struct aco_struct cpu_spec = ACO_TABLE("CpuSpec", cpu_fields);

const struct aco_field spec_cpu = { .kind = ACO_STRUCT, .sub_struct = &cpu_spec };

static const struct aco_variant backend_variants[] = {
	{ .name = "anon", .alias = "Anonymous", .value = MEM_BACKEND_ANON,
	  .doc = "Private anonymous mapping (MAP_ANONYMOUS)." },
	{ .name = "memfd", .alias = "Memfd", .value = MEM_BACKEND_MEMFD,
	  .doc = "A memfd_create() file, always mapped MAP_SHARED." },
};
static const struct aco_enum backend_enum = ACO_TABLE("MemBackend", backend_variants);

static const struct aco_field mem_fields[] = {
	{ .name = "size", .kind = ACO_U64, .offset = offsetof(struct mem_config, size),
	  .dflt = "1G", .doc = "Guest memory size in bytes." },
	{ .name = "backend", .kind = ACO_ENUM, .offset = offsetof(struct mem_config, backend),
	  .dflt = "anon", .doc = "Where the host takes the memory from.",
	  .sub_enum = &backend_enum },
	{ .name = "shared", .kind = ACO_BOOL, .offset = offsetof(struct mem_config, shared),
	  .dflt = "false", .doc = "Map guest memory MAP_SHARED instead of MAP_PRIVATE." },
	{ .name = "thp", .alias = "transparent_hugepage", .kind = ACO_BOOL,
	  .offset = offsetof(struct mem_config, thp), .dflt = "false",
	  .doc = "Back guest memory with transparent huge pages." },
};
static const struct aco_struct mem_spec = ACO_TABLE("MemSpec", mem_fields);

const struct aco_field spec_memory = { .kind = ACO_STRUCT, .sub_struct = &mem_spec };

static const struct aco_field log_console_fields[] = {
	{ .name = "path", .kind = ACO_STRING, .offset = offsetof(struct console_config, path),
	  .doc = "File receiving the console output." },
	{ .name = "append", .kind = ACO_BOOL, .offset = offsetof(struct console_config, append),
	  .dflt = "false", .doc = "Append to the file instead of truncating it." },
};
static const struct aco_struct log_console_spec = ACO_TABLE("LogConsoleSpec", log_console_fields);

static const struct aco_variant console_variants[] = {
	{ .name = "stdio", .alias = "Stdio", .value = CONSOLE_STDIO,
	  .doc = "Connect the guest console to the host's stdin/stdout (needs a TTY)." },
	{ .name = "log", .alias = "Log", .value = CONSOLE_LOG,
	  .doc = "Write the guest console output to a file.", .payload = &log_console_spec },
};
static const struct aco_enum console_enum = ACO_TABLE("ConsoleSpec", console_variants);

const struct aco_field spec_console = {
	.kind = ACO_ENUM, .offset = offsetof(struct console_config, kind),
	.sub_enum = &console_enum,
};

/* Alioth's FwCfgItemSpec: a name and a flattened content, file or string. */
static const struct aco_field fw_cfg_item_fields[] = {
	{ .name = "name", .kind = ACO_STRING, .offset = offsetof(struct fw_cfg_item_config, name),
	  .doc = "Name of the item in the fw_cfg file directory, e.g. opt/org.example/x." },
	{ .name = "file", .kind = ACO_STRING, .offset = offsetof(struct fw_cfg_item_config, file),
	  .optional = true, .doc = "Path of a file whose bytes are the item's content." },
	{ .name = "string", .kind = ACO_STRING,
	  .offset = offsetof(struct fw_cfg_item_config, string), .optional = true,
	  .doc = "Text (UTF-8) that is the item's content." },
};
static const struct aco_struct fw_cfg_item_spec = ACO_TABLE("FwCfgItemSpec", fw_cfg_item_fields);

const struct aco_field spec_fw_cfg_item = { .kind = ACO_STRUCT, .sub_struct = &fw_cfg_item_spec };

static const struct aco_variant blk_api_variants[] = {
	{ .name = "mio", .alias = "Mio", .value = BLK_ENGINE_MIO,
	  .doc = "A pool of I/O threads (Alioth's epoll-based worker)." },
	{ .name = "iouring", .alias = "io_uring", .value = BLK_ENGINE_IOURING,
	  .doc = "Linux io_uring." },
};
static const struct aco_enum blk_api_enum = ACO_TABLE("WorkerApi", blk_api_variants);

static const struct aco_field blk_file_fields[] = {
	{ .name = "path", .kind = ACO_STRING, .offset = offsetof(struct blk_config, path),
	  .doc = "Path of a raw disk image (a file or a block device)." },
	{ .name = "readonly", .kind = ACO_BOOL, .offset = offsetof(struct blk_config, readonly),
	  .dflt = "false", .doc = "Show the guest a read-only disk." },
	{ .name = "api", .kind = ACO_ENUM, .offset = offsetof(struct blk_config, api),
	  .optional = true, .sub_enum = &blk_api_enum,
	  .doc = "How the disk is accessed. [default: iouring where the kernel allows it, else mio]" },
	{ .name = "num_queues", .kind = ACO_U16, .offset = offsetof(struct blk_config, num_queues),
	  .dflt = "1", .doc = "Request queues (VIRTIO_BLK_F_MQ), 1 to 8." },
	{ .name = "packed", .kind = ACO_BOOL, .offset = offsetof(struct blk_config, packed),
	  .dflt = "true", .doc = "Offer packed virtqueues; false makes the driver use split rings." },
};
static const struct aco_struct blk_file_spec = ACO_TABLE("BlkFileSpec", blk_file_fields);
/* The same field table serves BlkSpec's file variant. */
_Static_assert(offsetof(struct blk_spec, file) == 0, "blk_spec.file must come first");

static const struct aco_field vu_socket_fields[] = {
	{ .name = "socket", .kind = ACO_STRING, .offset = offsetof(struct blk_spec, socket),
	  .doc = "Path of the vhost-user Unix domain socket." },
};
static const struct aco_struct vu_socket_spec = ACO_TABLE("VuSocket", vu_socket_fields);

static const struct aco_variant blk_variants[] = {
	{ .name = "file", .alias = "File", .value = BLK_KIND_FILE,
	  .doc = "VirtIO block device backed by a disk image file.", .payload = &blk_file_spec },
	{ .name = "vu", .alias = "Vu", .value = BLK_KIND_VU,
	  .doc = "vhost-user block device over a Unix domain socket (guest memory must be --memory ...,backend=memfd).",
	  .payload = &vu_socket_spec },
};
static const struct aco_enum blk_enum = ACO_TABLE("BlkSpec", blk_variants);

const struct aco_field spec_blk = {
	.kind = ACO_ENUM, .offset = offsetof(struct blk_spec, kind), .sub_enum = &blk_enum,
};
const struct aco_field spec_blk_file = { .kind = ACO_STRUCT, .sub_struct = &blk_file_spec };

static const struct aco_field net_tap_fields[] = {
	{ .name = "mac", .kind = ACO_STRING, .offset = offsetof(struct net_tap_spec, mac),
	  .optional = true,
	  .doc = "MAC address of the virtual NIC, e.g. 06:3a:76:53:da:3d. Required by Alioth; "
		 "here it may be left out. [default: a random locally administered address]" },
	{ .name = "mtu", .kind = ACO_U16, .offset = offsetof(struct net_tap_spec, mtu),
	  .dflt = "1500",
	  .doc = "Maximum transmission unit the guest is told. Required by Alioth; here it may "
		 "be left out." },
	{ .name = "qp", .alias = "queue_pairs", .kind = ACO_U16,
	  .offset = offsetof(struct net_tap_spec, queue_pairs), .dflt = "1",
	  .doc = "Number of pairs of transmit/receive queues, 1 to 16; more than 1 needs a "
		 "multi-queue TAP." },
	{ .name = "tap", .kind = ACO_STRING, .offset = offsetof(struct net_tap_spec, tap),
	  .optional = true,
	  .doc = "Path of the character device of a TAP interface: required for MacVTap and "
		 "IPVTap (/dev/tapN), optional for TUN/TAP. [default: /dev/net/tun]" },
	{ .name = "if", .alias = "if_name", .kind = ACO_STRING,
	  .offset = offsetof(struct net_tap_spec, if_name), .optional = true,
	  .doc = "Name of a TAP interface, e.g. tap0: required for TUN/TAP, optional for "
		 "MacVTap and IPVTap." },
	{ .name = "api", .kind = ACO_ENUM, .offset = offsetof(struct net_tap_spec, api),
	  .optional = true, .sub_enum = &blk_api_enum,
	  .doc = "System API for asynchronous IO; accepted for compatibility, frames always go "
		 "through the device's epoll worker. [default: mio]" },
};
static const struct aco_struct net_tap_spec = ACO_TABLE("TapNetSpec", net_tap_fields);
_Static_assert(offsetof(struct net_spec, tap) == 0, "net_spec.tap must come first");

static const struct aco_field vu_net_socket_fields[] = {
	{ .name = "socket", .kind = ACO_STRING, .offset = offsetof(struct net_spec, socket),
	  .doc = "Path of the vhost-user Unix domain socket." },
};
static const struct aco_struct vu_net_socket_spec = ACO_TABLE("VuSocket", vu_net_socket_fields);

/* --net user (not in Alioth): libslirp. Repeated keys are refused by the
 * parser, so all forwards go in one value, separated by ';'. */
static const struct aco_field net_user_fields[] = {
	{ .name = "mac", .kind = ACO_STRING, .offset = offsetof(struct net_spec, tap.mac),
	  .optional = true,
	  .doc = "MAC address of the virtual NIC. [default: a random locally administered "
		 "address]" },
	{ .name = "mtu", .kind = ACO_U16, .offset = offsetof(struct net_spec, tap.mtu),
	  .dflt = "1500", .doc = "Maximum transmission unit, 68 to 65521." },
	{ .name = "hostfwd", .kind = ACO_STRING, .offset = offsetof(struct net_spec, hostfwd),
	  .optional = true,
	  .doc = "Host port forwards, QEMU's syntax, several separated by ';' (quote them in a "
		 "shell): [tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport, e.g. "
		 "tcp:127.0.0.1:2222-:22. An empty hostaddr is every host address, an empty "
		 "guestaddr 10.0.2.15." },
	{ .name = "restrict", .kind = ACO_BOOL, .offset = offsetof(struct net_spec, restricted),
	  .dflt = "false",
	  .doc = "Isolate the guest: only DHCP and the host forwards work, nothing it opens "
		 "leaves the VM." },
};
static const struct aco_struct net_user_spec = ACO_TABLE("UserNetSpec", net_user_fields);

static const struct aco_variant net_variants[] = {
	{ .name = "tap", .alias = "Tap", .value = NET_KIND_TAP,
	  .doc = "VirtIO net device backed by TUN/TAP, MacVTap, or IPVTap.",
	  .payload = &net_tap_spec },
	{ .name = "vu", .alias = "Vu", .value = NET_KIND_VU,
	  .doc = "vhost-user net device over a Unix domain socket (guest memory must be --memory ...,backend=memfd).",
	  .payload = &vu_net_socket_spec },
	{ .name = "user", .alias = "User", .value = NET_KIND_USER,
	  .doc = "VirtIO net device on a user-mode stack (libslirp; not in Alioth): NAT to the "
		 "host's network, DHCP (guest 10.0.2.15, gateway 10.0.2.2, DNS 10.0.2.3), no "
		 "root needed.",
	  .payload = &net_user_spec },
};
static const struct aco_enum net_enum = ACO_TABLE("NetSpec", net_variants);

const struct aco_field spec_net = {
	.kind = ACO_ENUM, .offset = offsetof(struct net_spec, kind), .sub_enum = &net_enum,
};
const struct aco_field spec_net_tap = { .kind = ACO_STRUCT, .sub_struct = &net_tap_spec };

const struct aco_field spec_u16 = { .kind = ACO_U16 };
const struct aco_field spec_u64 = { .kind = ACO_U64 };
