/* The option tables of `alioth boot` values (Alioth's *Spec types): each
 * describes, once, how a flag's value parses into struct vm_config and how
 * `alioth boot --help` documents it. */
#ifndef ALIOTH_CLI_SPECS_H
#define ALIOTH_CLI_SPECS_H

#include "board/config.h"
#include "cli/aco.h"

enum hv_kind { HV_KVM };

/* --hypervisor: parsed apart because vm_config only keeps dev_kvm. */
struct hv_spec {
	enum hv_kind kind;
	char *dev_kvm;
	char *dev_sev;
};

extern const struct aco_field spec_hypervisor; /* into struct hv_spec */
extern const struct aco_field spec_cpu;        /* into struct cpu_config */
extern const struct aco_field spec_memory;     /* into struct mem_config */
extern const struct aco_field spec_console;    /* into struct console_config */
extern const struct aco_field spec_fw_cfg_item; /* into struct fw_cfg_item_config */
/* --blk: Alioth's BlkSpec (file or vu) parses into struct blk_spec; its
 * older form "path=...,readonly=..." (BlkFileSpec) into struct blk_config.
 * file comes first so that both tables share the file fields. */
enum blk_kind { BLK_KIND_FILE, BLK_KIND_VU };
struct blk_spec {
	struct blk_config file;
	enum blk_kind kind;
	char *socket; /* vu */
};
extern const struct aco_field spec_blk;         /* into struct blk_spec */
extern const struct aco_field spec_blk_file;    /* into struct blk_config */
/* --net: Alioth's NetSpec (tap or vu) into struct net_spec; the form
 * without a variant is its TapNetSpec alone, into struct net_tap_spec.
 * tap comes first so that both tables share the tap fields. */
enum net_kind { NET_KIND_TAP, NET_KIND_VU, NET_KIND_USER };
struct net_tap_spec {
	char *mac;            /* checked and converted by boot_args.c */
	uint16_t mtu;
	uint16_t queue_pairs;
	char *tap;
	char *if_name;
	enum blk_engine api;  /* accepted like Alioth's; the net worker uses epoll */
};
struct net_spec {
	struct net_tap_spec tap;
	enum net_kind kind;
	char *socket; /* vu */
	/* user: mac and mtu in tap above */
	char *hostfwd;
	bool restricted;
};
extern const struct aco_field spec_net;         /* into struct net_spec */
extern const struct aco_field spec_net_tap;     /* into struct net_tap_spec */
extern const struct aco_field spec_u16;        /* a bare integer, e.g. --num-cpu */
extern const struct aco_field spec_u64;        /* a bare size, e.g. --mem-size */

#endif
