#include "board/config.h"

#include <stdlib.h>
#include <string.h>

#include "util/util.h"

void vm_config_init(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mem.size = 1 * GiB;
	cfg->mem.backend = MEM_BACKEND_ANON;
	cfg->cpu.count = 1;
	cfg->console.kind = CONSOLE_STDIO;
}

void vm_config_free(struct vm_config *cfg)
{
	free(cfg->dev_kvm);
	free(cfg->kernel);
	free(cfg->pvh);
	free(cfg->firmware);
	free(cfg->cmdline);
	free(cfg->initramfs);
	free(cfg->console.path);
	for (unsigned i = 0; i < cfg->nr_fw_cfg; i++) {
		free(cfg->fw_cfg[i].name);
		free(cfg->fw_cfg[i].file);
		free(cfg->fw_cfg[i].string);
	}
	free(cfg->fw_cfg);
	for (unsigned i = 0; i < cfg->nr_blk; i++) {
		free(cfg->blk[i].path);
		free(cfg->blk[i].vu_socket);
	}
	free(cfg->blk);
	for (unsigned i = 0; i < cfg->nr_net; i++) {
		free(cfg->net[i].tap);
		free(cfg->net[i].if_name);
		free(cfg->net[i].hostfwd);
		free(cfg->net[i].vu_socket);
	}
	free(cfg->net);
	vm_config_init(cfg);
}
