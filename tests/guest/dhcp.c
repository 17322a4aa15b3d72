#include "dhcp.h"
#include "klib.h"

#define BOOTP_LEN   548 /* 236 fixed + 312 options: libslirp drops shorter */
#define BOOTP_AT    (14 + 20 + 8)
#define COOKIE_AT   236
#define OPT_PAD     0
#define OPT_MASK    1
#define OPT_ROUTER  3
#define OPT_DNS     6
#define OPT_TYPE    53
#define OPT_END     255
#define DHCPOFFER   2

static void put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint16_t ip_csum(const uint8_t *p, unsigned len)
{
	uint32_t s = 0;

	for (unsigned i = 0; i + 1 < len; i += 2)
		s += be16(p + i);
	while (s >> 16)
		s = (s & 0xFFFF) + (s >> 16);
	return (uint16_t)~s;
}

unsigned dhcp_discover(uint8_t *f, const uint8_t mac[6], uint32_t xid)
{
	uint8_t *ip = f + 14, *udp = f + 34, *bp = f + BOOTP_AT;

	memset(f, 0, DHCP_FRAME_LEN);
	memset(f, 0xFF, 6);
	memcpy(f + 6, mac, 6);
	put_be16(f + 12, 0x0800);
	ip[0] = 0x45;
	put_be16(ip + 2, 20 + 8 + BOOTP_LEN);
	ip[8] = 64;
	ip[9] = 17;
	memset(ip + 16, 0xFF, 4); /* from 0.0.0.0 to 255.255.255.255 */
	put_be16(ip + 10, ip_csum(ip, 20));
	put_be16(udp, 68);
	put_be16(udp + 2, 67);
	put_be16(udp + 4, 8 + BOOTP_LEN); /* checksum 0: none, allowed for UDP/IPv4 */
	bp[0] = 1; /* BOOTREQUEST */
	bp[1] = 1; /* Ethernet */
	bp[2] = 6;
	memcpy(bp + 4, &xid, 4);
	put_be16(bp + 10, 0x8000); /* broadcast the reply: no address yet */
	memcpy(bp + 28, mac, 6);
	memcpy(bp + COOKIE_AT, "\x63\x82\x53\x63", 4);
	bp[COOKIE_AT + 4] = OPT_TYPE;
	bp[COOKIE_AT + 5] = 1;
	bp[COOKIE_AT + 6] = 1; /* DHCPDISCOVER */
	bp[COOKIE_AT + 7] = OPT_END;
	return DHCP_FRAME_LEN;
}

static void read_options(const uint8_t *o, unsigned len, struct dhcp_offer *out, int *type)
{
	for (unsigned i = 0; i < len && o[i] != OPT_END;) {
		if (o[i] == OPT_PAD) {
			i++;
			continue;
		}
		if (i + 2 > len || i + 2 + o[i + 1] > len)
			return;
		const uint8_t *v = o + i + 2;
		unsigned n = o[i + 1];
		if (o[i] == OPT_TYPE && n >= 1)
			*type = v[0];
		else if (o[i] == OPT_MASK && n >= 4)
			out->have_mask = 1, memcpy(out->mask, v, 4);
		else if (o[i] == OPT_ROUTER && n >= 4)
			out->have_router = 1, memcpy(out->router, v, 4);
		else if (o[i] == OPT_DNS && n >= 4)
			out->have_dns = 1, memcpy(out->dns, v, 4);
		i += 2 + n;
	}
}

int dhcp_read_offer(const uint8_t *f, unsigned len, uint32_t xid, struct dhcp_offer *out)
{
	const uint8_t *ip = f + 14, *bp;
	unsigned ihl;
	int type = 0;

	if (len < 34 || be16(f + 12) != 0x0800 || (ip[0] >> 4) != 4 || ip[9] != 17)
		return 0;
	ihl = (ip[0] & 0xFu) * 4u;
	if (ihl < 20 || len < 14 + ihl + 8 + COOKIE_AT + 4)
		return 0;
	bp = ip + ihl + 8;
	if (be16(ip + ihl) != 67 || be16(ip + ihl + 2) != 68 || bp[0] != 2 ||
	    memcmp(bp + 4, &xid, 4) || memcmp(bp + COOKIE_AT, "\x63\x82\x53\x63", 4))
		return 0;
	memset(out, 0, sizeof(*out));
	memcpy(out->yiaddr, bp + 16, 4);
	read_options(bp + COOKIE_AT + 4, len - (unsigned)(bp + COOKIE_AT + 4 - f), out, &type);
	return type == DHCPOFFER;
}
