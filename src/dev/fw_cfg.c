#include "dev/fw_cfg.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/util.h"

#define OFF_SELECTOR 0
#define OFF_DATA     1
#define OFF_DMA_HIGH 4
#define OFF_DMA_LOW  8
#define DMA_DESC_SIZE 16

struct fw_cfg_item {
	uint8_t *data;
	uint32_t len;
	bool present;
	bool writable;
};

struct fw_cfg {
	pthread_mutex_t lock;
	const struct guest_mem *gm;
	uint16_t selector;
	uint32_t offset;        /* into the selected item */
	uint64_t dma_addr;
	struct fw_cfg_item known[FW_CFG_FILE_FIRST];
	struct fw_cfg_item files[FW_CFG_MAX_FILES];
	unsigned nr_files;
};

static const uint8_t signature[] = { 'Q', 'E', 'M', 'U' };
static const uint8_t dma_signature[8] = { 'Q', 'E', 'M', 'U', ' ', 'C', 'F', 'G' };

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void item_replace(struct fw_cfg_item *it, uint8_t *data, uint32_t len, bool writable)
{
	free(it->data);
	*it = (struct fw_cfg_item){ .data = data, .len = len, .present = true,
				    .writable = writable };
}

/* NULL when nothing answers at key. */
static struct fw_cfg_item *item_at(struct fw_cfg *fw, uint16_t key)
{
	struct fw_cfg_item *it = NULL;
	if (key < FW_CFG_FILE_FIRST)
		it = &fw->known[key];
	else if (key - FW_CFG_FILE_FIRST < (int)fw->nr_files)
		it = &fw->files[key - FW_CFG_FILE_FIRST];
	return it && it->present ? it : NULL;
}

static uint8_t *dup_bytes(const void *data, size_t len)
{
	uint8_t *p = xmalloc(len ? len : 1);
	if (len)
		memcpy(p, data, len);
	return p;
}

int fw_cfg_set_owned(struct fw_cfg *fw, uint16_t key, uint8_t *data, size_t len)
{
	if (key >= FW_CFG_FILE_FIRST || key == FW_CFG_FILE_DIR || len > UINT32_MAX) {
		free(data);
		return -EINVAL;
	}
	pthread_mutex_lock(&fw->lock);
	item_replace(&fw->known[key], data, (uint32_t)len, false);
	pthread_mutex_unlock(&fw->lock);
	return 0;
}

int fw_cfg_set(struct fw_cfg *fw, uint16_t key, const void *data, size_t len)
{
	return fw_cfg_set_owned(fw, key, dup_bytes(data, len), len);
}

int fw_cfg_set_u16(struct fw_cfg *fw, uint16_t key, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
	return fw_cfg_set(fw, key, b, sizeof(b));
}

int fw_cfg_set_u32(struct fw_cfg *fw, uint16_t key, uint32_t v)
{
	uint8_t b[4];
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	return fw_cfg_set(fw, key, b, sizeof(b));
}

int fw_cfg_set_u64(struct fw_cfg *fw, uint16_t key, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	return fw_cfg_set(fw, key, b, sizeof(b));
}

static bool name_taken(const struct fw_cfg *fw, const char *name)
{
	const struct fw_cfg_item *dir = &fw->known[FW_CFG_FILE_DIR];
	for (unsigned i = 0; i < fw->nr_files; i++) {
		const char *entry = (const char *)dir->data + 4 + i * FW_CFG_DIR_ENTRY_SIZE + 8;
		if (!strncmp(entry, name, FW_CFG_NAME_SIZE))
			return true;
	}
	return false;
}

/* Directory: BE32 count, then per file BE32 size, BE16 select, 2 reserved
 * bytes and the NUL-padded name. */
static void dir_append(struct fw_cfg *fw, const char *name, uint32_t size, uint16_t key)
{
	struct fw_cfg_item *dir = &fw->known[FW_CFG_FILE_DIR];
	uint32_t len = 4 + fw->nr_files * FW_CFG_DIR_ENTRY_SIZE;
	uint8_t *d = xcalloc(1, len);
	memcpy(d, dir->data, dir->len);
	uint8_t *e = d + dir->len;
	put_be32(e, size);
	e[4] = (uint8_t)(key >> 8);
	e[5] = (uint8_t)key;
	memcpy(e + 8, name, strlen(name));
	put_be32(d, fw->nr_files);
	item_replace(dir, d, len, false);
}

int fw_cfg_add_file_owned(struct fw_cfg *fw, const char *name, uint8_t *data, size_t len,
			  bool writable, uint16_t *key)
{
	size_t nlen = strlen(name);
	int err = 0;
	pthread_mutex_lock(&fw->lock);
	if (nlen == 0 || len > UINT32_MAX)
		err = -EINVAL;
	else if (nlen >= FW_CFG_NAME_SIZE)
		err = -ENAMETOOLONG;
	else if (name_taken(fw, name))
		err = -EEXIST;
	else if (fw->nr_files >= FW_CFG_MAX_FILES)
		err = -ENOSPC;
	if (err) {
		pthread_mutex_unlock(&fw->lock);
		free(data);
		return err;
	}
	uint16_t k = (uint16_t)(FW_CFG_FILE_FIRST + fw->nr_files);
	item_replace(&fw->files[fw->nr_files++], data, (uint32_t)len, writable);
	dir_append(fw, name, (uint32_t)len, k);
	pthread_mutex_unlock(&fw->lock);
	if (key)
		*key = k;
	return 0;
}

int fw_cfg_add_file(struct fw_cfg *fw, const char *name, const void *data, size_t len,
		    bool writable, uint16_t *key)
{
	return fw_cfg_add_file_owned(fw, name, dup_bytes(data, len), len, writable, key);
}

struct fw_cfg *fw_cfg_create(const struct guest_mem *gm)
{
	struct fw_cfg *fw = xcalloc(1, sizeof(*fw));
	pthread_mutex_init(&fw->lock, NULL);
	fw->gm = gm;
	item_replace(&fw->known[FW_CFG_SIGNATURE], dup_bytes(signature, 4), 4, false);
	uint8_t id[4] = { FW_CFG_ID_TRADITIONAL | FW_CFG_ID_DMA, 0, 0, 0 };
	item_replace(&fw->known[FW_CFG_ID], dup_bytes(id, 4), 4, false);
	item_replace(&fw->known[FW_CFG_FILE_DIR], xcalloc(1, 4), 4, false);
	return fw;
}

void fw_cfg_destroy(struct fw_cfg *fw)
{
	if (!fw)
		return;
	for (unsigned i = 0; i < FW_CFG_FILE_FIRST; i++)
		free(fw->known[i].data);
	for (unsigned i = 0; i < fw->nr_files; i++)
		free(fw->files[i].data);
	pthread_mutex_destroy(&fw->lock);
	free(fw);
}

static void select_item(struct fw_cfg *fw, uint16_t key)
{
	fw->selector = key;
	fw->offset = 0;
}

/* Past the end of an item, and for an absent one, the data port reads 0. */
static uint8_t read_data_byte(struct fw_cfg *fw)
{
	const struct fw_cfg_item *it = item_at(fw, fw->selector);
	if (!it || fw->offset >= it->len)
		return 0;
	return it->data[fw->offset++];
}

static uint32_t remaining(const struct fw_cfg_item *it, uint32_t offset)
{
	return offset < it->len ? it->len - offset : 0;
}

static void advance(struct fw_cfg *fw, const struct fw_cfg_item *it, uint32_t len)
{
	fw->offset += MIN(len, remaining(it, fw->offset));
}

/* The whole destination is checked before a byte is written; bytes past
 * the end of the item read as zero. */
static bool dma_read(struct fw_cfg *fw, struct fw_cfg_item *it, uint32_t len, uint64_t addr)
{
	uint8_t *dst = gm_ptr(fw->gm, addr, len);
	if (!dst)
		return false;
	uint32_t n = MIN(len, remaining(it, fw->offset));
	if (n)
		memcpy(dst, it->data + fw->offset, n);
	memset(dst + n, 0, len - n);
	advance(fw, it, len);
	return true;
}

/* Bytes past the end of the item are dropped: an item never grows. */
static bool dma_write(struct fw_cfg *fw, struct fw_cfg_item *it, uint32_t len, uint64_t addr)
{
	const uint8_t *src = gm_ptr(fw->gm, addr, len);
	if (!it->writable || !src)
		return false;
	uint32_t n = MIN(len, remaining(it, fw->offset));
	if (n)
		memcpy(it->data + fw->offset, src, n);
	advance(fw, it, len);
	return true;
}

/* Returns false when the error bit must be set. */
static bool dma_transfer(struct fw_cfg *fw, uint32_t control, uint32_t len, uint64_t addr)
{
	if (control & FW_CFG_DMA_SELECT)
		select_item(fw, (uint16_t)(control >> 16));
	bool read = control & FW_CFG_DMA_READ;
	bool write = control & FW_CFG_DMA_WRITE;
	bool skip = control & FW_CFG_DMA_SKIP;
	if (!read && !write && !skip)
		return true; /* a bare select */
	struct fw_cfg_item *it = item_at(fw, fw->selector);
	if (!it) {
		log_debug("fw_cfg: DMA on absent selector %#x", fw->selector);
		return false;
	}
	if (read)
		return dma_read(fw, it, len, addr);
	if (write)
		return dma_write(fw, it, len, addr);
	advance(fw, it, len);
	return true;
}

/* The guest learns the outcome from the control word: 0, or the error bit. */
static void do_dma(struct fw_cfg *fw)
{
	uint8_t desc[DMA_DESC_SIZE];
	if (!gm_read(fw->gm, fw->dma_addr, desc, sizeof(desc))) {
		log_debug("fw_cfg: DMA descriptor at %#llx is outside RAM",
			  (unsigned long long)fw->dma_addr);
		return;
	}
	uint32_t control = get_be32(desc);
	uint32_t len = get_be32(desc + 4);
	uint64_t addr = (uint64_t)get_be32(desc + 8) << 32 | get_be32(desc + 12);
	bool ok = dma_transfer(fw, control, len, addr);
	uint8_t result[4];
	put_be32(result, ok ? 0 : FW_CFG_DMA_ERROR);
	gm_write(fw->gm, fw->dma_addr, result, sizeof(result));
}

/* Port data arrives as the guest wrote it in memory order; the DMA address
 * halves are big-endian. */
static uint32_t port_be32(uint64_t val)
{
	return __builtin_bswap32((uint32_t)val);
}

static uint64_t signature_word(unsigned at)
{
	uint32_t v;
	memcpy(&v, dma_signature + at, 4);
	return v;
}

static uint64_t fw_cfg_read(void *dev, uint64_t off, unsigned size)
{
	struct fw_cfg *fw = dev;
	uint64_t val = 0;
	pthread_mutex_lock(&fw->lock);
	if (off == OFF_DATA && size == 1)
		val = read_data_byte(fw);
	else if (off == OFF_DMA_HIGH && size == 4)
		val = signature_word(0);
	else if (off == OFF_DMA_LOW && size == 4)
		val = signature_word(4);
	else
		log_debug("fw_cfg: read of %u bytes at port offset %llu ignored", size,
			  (unsigned long long)off);
	pthread_mutex_unlock(&fw->lock);
	return val;
}

static void fw_cfg_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct fw_cfg *fw = dev;
	pthread_mutex_lock(&fw->lock);
	if (off == OFF_SELECTOR && size == 2) {
		select_item(fw, (uint16_t)val);
	} else if (off == OFF_DMA_HIGH && size == 4) {
		fw->dma_addr = (uint64_t)port_be32(val) << 32 | (uint32_t)fw->dma_addr;
	} else if (off == OFF_DMA_LOW && size == 4) {
		fw->dma_addr = (fw->dma_addr & ~0xffffffffULL) | port_be32(val);
		do_dma(fw);
	} else {
		/* QEMU also ignores data port writes since 2.4. */
		log_debug("fw_cfg: write of %u bytes at port offset %llu ignored", size,
			  (unsigned long long)off);
	}
	pthread_mutex_unlock(&fw->lock);
}

const struct io_ops fw_cfg_io_ops = {
	.read = fw_cfg_read,
	.write = fw_cfg_write,
};
