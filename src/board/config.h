/* What `alioth boot` was asked to build: filled by the command line
 * (src/cli/boot_args.c), consumed by the board. Strings are owned (heap). */
#ifndef ALIOTH_BOARD_CONFIG_H
#define ALIOTH_BOARD_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

enum mem_backend { MEM_BACKEND_ANON, MEM_BACKEND_MEMFD };

struct mem_config {
	uint64_t size;            /* bytes; default 1 GiB */
	enum mem_backend backend; /* default anon */
	bool shared;
	bool thp;
};

struct cpu_topology {
	bool smt;
	uint16_t cores;   /* per socket; 0 = derived from count */
	uint8_t sockets;  /* 0 = 1 */
	bool thread_contiguous;
};

struct cpu_config {
	uint16_t count;   /* default 1 */
	struct cpu_topology topology;
};

enum console_kind { CONSOLE_STDIO, CONSOLE_LOG };

struct console_config {
	enum console_kind kind;
	char *path;   /* CONSOLE_LOG */
	bool append;  /* CONSOLE_LOG */
};

/* --fw-cfg name=NAME,file=PATH | name=NAME,string=TEXT (FwCfgItemSpec). */
struct fw_cfg_item_config {
	char *name;
	char *file;    /* exactly one of file and string is set */
	char *string;
};

/* --blk: Alioth's BlkFileSpec. */
enum blk_engine {
	BLK_ENGINE_DEFAULT, /* api not given: io_uring where the kernel allows it, else mio */
	BLK_ENGINE_MIO,     /* api=mio: a thread pool */
	BLK_ENGINE_IOURING, /* api=iouring: io_uring or a startup error */
};

struct blk_config {
	char *path;
	bool readonly;
	enum blk_engine api;
	uint16_t num_queues; /* our extension; 0 or 1: one queue */
	bool packed;         /* our extension: false hides VIRTIO_F_RING_PACKED */
	char *vu_socket;     /* --blk vu,socket=PATH: a vhost-user backend serves
			      * the disk (the fields above are then unused) */
};

/* --net: Alioth's TapNetSpec, resolved. Alioth requires mac and mtu; here
 * they default (a random locally administered MAC, MTU 1500). */
struct net_config {
	char *tap;            /* tap=PATH; NULL: /dev/net/tun */
	char *if_name;        /* if=NAME; NULL only with tap= (macvtap/ipvtap) */
	bool has_mac;
	uint8_t mac[6];       /* when has_mac */
	uint16_t mtu;         /* 1500 unless given */
	uint16_t queue_pairs; /* >= 1 */
	/* --net user (src/net/slirp.h): libslirp instead of a TAP; tap and
	 * if_name are NULL then, queue_pairs 1. */
	bool user;
	bool restricted;      /* user: restrict=on, only forwards and DHCP */
	char *hostfwd;        /* user: hostfwd rules as given (checked), or NULL */
	char *vu_socket;      /* --net vu,socket=PATH: a vhost-user backend serves
			       * the NIC (the fields above are then unused) */
};

struct vm_config {
	char *dev_kvm;    /* --hypervisor kvm,dev_kvm=PATH; NULL = /dev/kvm */
	char *kernel;     /* -k bzImage */
	char *pvh;        /* --pvh ELF */
	char *firmware;   /* -f */
	char *cmdline;    /* -c */
	char *initramfs;  /* -i */
	struct mem_config mem;
	struct cpu_config cpu;
	struct console_config console;
	bool pvpanic;
	bool entropy;
	struct fw_cfg_item_config *fw_cfg;  /* --fw-cfg, in command-line order */
	unsigned nr_fw_cfg;
	struct blk_config *blk;  /* --blk, in command-line order */
	unsigned nr_blk;
	struct net_config *net;  /* --net, in command-line order */
	unsigned nr_net;
};

void vm_config_init(struct vm_config *cfg);   /* Alioth's defaults */
void vm_config_free(struct vm_config *cfg);

#endif
