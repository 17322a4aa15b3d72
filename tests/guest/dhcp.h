/* DHCP for the net check with `--net user`: the DISCOVER the guest
 * broadcasts, and the OFFER answering it read back (offered address,
 * subnet mask, router and DNS server). */
#ifndef GUEST_DHCP_H
#define GUEST_DHCP_H

#include <stdint.h>

struct dhcp_offer {
	uint8_t yiaddr[4], mask[4], router[4], dns[4];
	int have_mask, have_router, have_dns;
};

/* Writes the Ethernet frame into frame (at least DHCP_FRAME_LEN bytes) and
 * returns its length. */
#define DHCP_FRAME_LEN (14 + 20 + 8 + 548)
unsigned dhcp_discover(uint8_t *frame, const uint8_t mac[6], uint32_t xid);

/* 1 when frame is the OFFER for xid (filled into *out), else 0. */
int dhcp_read_offer(const uint8_t *frame, unsigned len, uint32_t xid, struct dhcp_offer *out);

#endif
