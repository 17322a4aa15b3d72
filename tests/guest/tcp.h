/* A minimal TCP responder for the net check with `--net user`: one
 * connection at a time on one port. SYN gets SYN-ACK; once established it
 * sends a banner, echoes what arrives and answers FIN with FIN. Go-back-N:
 * a segment from the peer that leaves data unacknowledged makes it send
 * all of it again, so a lost frame only costs a round trip. */
#ifndef GUEST_TCP_H
#define GUEST_TCP_H

#include <stdint.h>

#define TCP_OUT_MAX 512

struct tcp_responder {
	uint8_t mac[6], ip[4];
	uint16_t port;
	const char *banner;
	/* the connection */
	int state;
	uint8_t peer_mac[6], peer_ip[4];
	uint16_t peer_port, ip_id;
	uint32_t iss, snd_una, rcv_nxt;
	int peer_fin;
	unsigned out_len;            /* unacknowledged bytes from snd_una */
	uint8_t out[TCP_OUT_MAX];
	/* what happened */
	uint64_t conns, closed, bytes_in, resets, bad;
};

void tcp_init(struct tcp_responder *t, const uint8_t mac[6], const uint8_t ip[4],
	      uint16_t port, const char *banner);

/* f: an Ethernet frame with an IPv4 TCP segment for t->ip (IP header
 * already checked). Writes the answer, if any, into out (at least
 * 14 + 40 + TCP_OUT_MAX bytes) and returns its length, else 0. */
unsigned tcp_input(struct tcp_responder *t, const uint8_t *f, unsigned len, uint8_t *out);

#endif
