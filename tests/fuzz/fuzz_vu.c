/* libFuzzer target for the vhost-user message checks (src/vhost/vu_proto.c):
 * the input is a stream of messages as a frontend would send them; each is
 * parsed from the bytes and checked, and whatever the checks accept must
 * satisfy what the backend relies on (sizes, fd counts, queue index,
 * region arithmetic without overflow, config access inside 256 bytes).
 *
 * Input: [queue count][fd count][message bytes...]; fds are placeholders.
 *
 * Self-contained: it includes the source it tests. From the repository root:
 * build: clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc tests/fuzz/fuzz_vu.c -o fuzz_vu
 * run:   ./fuzz_vu -max_len=4096 -max_total_time=60 CORPUS_DIR
 * For tests/fuzz/run-fuzzers.sh: no extra sources (sources_fuzz_vu="").
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vhost/vu_proto.c"

static void must(int cond)
{
	if (!cond)
		__builtin_trap();
}

static void check_accepted(const struct vu_msg *m, unsigned nq)
{
	must(m->hdr.size <= VU_MAX_PAYLOAD);
	must((m->hdr.flags & VU_FLAG_VERSION_MASK) == VU_VERSION);
	switch (m->hdr.request) {
	case VU_SET_MEM_TABLE:
		must(m->p.mem.nregions <= VU_MAX_MEM_REGIONS && m->nfds == m->p.mem.nregions);
		for (unsigned i = 0; i < m->p.mem.nregions; i++) {
			const struct vu_mem_region *r = &m->p.mem.region[i];
			must(r->size && r->gpa + r->size > r->gpa && r->uva + r->size > r->uva &&
			     r->mmap_offset + r->size > r->mmap_offset);
		}
		break;
	case VU_ADD_MEM_REG:
		must(m->nfds == 1 && vu_region_valid(&m->p.reg.region));
		break;
	case VU_GET_CONFIG:
	case VU_SET_CONFIG:
		must(m->p.config.size <= VU_MAX_CONFIG &&
		     m->p.config.offset + m->p.config.size <= VU_MAX_CONFIG &&
		     m->hdr.size == VU_CONFIG_HDR_SIZE + m->p.config.size);
		break;
	case VU_SET_VRING_NUM:
	case VU_SET_VRING_BASE:
	case VU_GET_VRING_BASE:
	case VU_SET_VRING_ENABLE:
		must(m->hdr.size == 8 && m->p.state.index < nq);
		break;
	case VU_SET_VRING_ADDR:
		must(m->hdr.size == 40 && m->p.addr.index < nq);
		break;
	case VU_SET_VRING_KICK:
	case VU_SET_VRING_CALL:
	case VU_SET_VRING_ERR:
		must(m->hdr.size == 8 && (m->p.u64 & VU_VRING_IDX_MASK) < nq &&
		     m->nfds == ((m->p.u64 & VU_VRING_NOFD) ? 0u : 1u));
		break;
	default:
		must(m->nfds == 0 || m->hdr.request == VU_REM_MEM_REG);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vu_msg m;
	char why[160];
	if (size < 2)
		return 0;
	unsigned nq = data[0] % 9, nfds = data[1] % (VU_MAX_FDS + 1);
	data += 2;
	size -= 2;
	while (size) {
		memset(&m, 0, sizeof(m));
		long n = vu_msg_parse(data, size, &m, why, sizeof(why));
		if (n <= 0)
			break;
		m.nfds = nfds;
		for (unsigned i = 0; i < nfds; i++)
			m.fds[i] = -1;
		if (vu_msg_check(&m, nq, why, sizeof(why)) == 0)
			check_accepted(&m, nq);
		vu_request_name(m.hdr.request);
		data += n;
		size -= (size_t)n;
	}
	return 0;
}
