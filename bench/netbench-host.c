/* Host side of the network benchmark (bench/net-bench.py), an AF_PACKET
 * socket on a TAP, run inside the benchmark's own network namespace:
 *   netbench-host send IF DSTMAC SIZE SECONDS   blast SIZE-byte frames
 *   netbench-host count IF SIZE COUNT IDLE_MS   count the guest's frames
 * Frames carry ethertype 0x88B5 (local experimental, dropped by the host
 * stack) and a little-endian sequence number at byte 14, as the test
 * guest's netbench.c. Results are one line of key=value words. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ETHERTYPE_BENCH 0x88B5
#define BATCH 64
#define MAX_FRAME 2048

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int packet_socket(const char *ifname, uint16_t proto, struct sockaddr_ll *sll)
{
	int fd = socket(AF_PACKET, SOCK_RAW, htons(proto));

	if (fd < 0) {
		perror("socket(AF_PACKET)");
		exit(2);
	}
	memset(sll, 0, sizeof(*sll));
	sll->sll_family = AF_PACKET;
	sll->sll_protocol = htons(proto);
	sll->sll_ifindex = (int)if_nametoindex(ifname);
	if (!sll->sll_ifindex) {
		fprintf(stderr, "no interface %s\n", ifname);
		exit(2);
	}
	if (bind(fd, (struct sockaddr *)sll, sizeof(*sll))) {
		perror("bind");
		exit(2);
	}
	return fd;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3],
		      &mac[4], &mac[5]) == 6;
}

/* Sends batches with sendmmsg until SECONDS have passed. A TAP whose
 * reader (the VMM) is behind drops what does not fit its queue; the
 * guest counts what arrived. */
static int do_send(const char *ifname, const char *dst, unsigned size, double seconds)
{
	static uint8_t frames[BATCH][MAX_FRAME];
	struct iovec iov[BATCH];
	struct mmsghdr msgs[BATCH];
	struct sockaddr_ll sll;
	uint8_t mac[6];
	uint64_t sent = 0, calls = 0, nobufs = 0;
	int fd = packet_socket(ifname, 0, &sll);   /* protocol 0: transmit only */
	int one = 1;

	if (size < 18 || size > MAX_FRAME || !parse_mac(dst, mac)) {
		fprintf(stderr, "bad size or MAC\n");
		return 2;
	}
	/* straight to the driver: the TAP's own queue is the only one */
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	for (unsigned i = 0; i < BATCH; i++) {
		uint8_t *f = frames[i];
		memcpy(f, mac, 6);
		memcpy(f + 6, (const uint8_t[]){ 0x02, 0x6e, 0x62, 0x00, 0x00, 0x02 }, 6);
		f[12] = ETHERTYPE_BENCH >> 8;
		f[13] = ETHERTYPE_BENCH & 0xFF;
		for (unsigned k = 18; k < size; k++)
			f[k] = (uint8_t)(k * 13);
		iov[i] = (struct iovec){ f, size };
		memset(&msgs[i], 0, sizeof(msgs[i]));
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)(seconds * 1e9), t = t0;
	while (t < end) {
		for (unsigned i = 0; i < BATCH; i++) {
			uint32_t seq = (uint32_t)(sent + i);
			memcpy(frames[i] + 14, &seq, 4);
		}
		int n = sendmmsg(fd, msgs, BATCH, 0);
		calls++;
		if (n < 0) {
			if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
				perror("sendmmsg");
				return 1;
			}
			/* the TAP's queue is full: let the VMM drain it instead of
			 * spinning on a CPU the vCPU and the VMM need */
			nobufs++;
			n = 0;
			nanosleep(&(struct timespec){ 0, 200000 }, NULL);
		}
		sent += (uint64_t)n;
		t = now_ns();
	}
	printf("sent=%lu ns=%lu calls=%lu nobufs=%lu\n", (unsigned long)sent,
	       (unsigned long)(t - t0), (unsigned long)calls, (unsigned long)nobufs);
	close(fd);
	return 0;
}

/* Counts frames of the benchmark's type and SIZE until COUNT arrived or
 * none for IDLE_MS after the first; sequence gaps and reorderings are
 * counted, so are frames the socket itself dropped. */
static int do_count(const char *ifname, unsigned size, uint64_t count, unsigned idle_ms)
{
	static uint8_t bufs[BATCH][MAX_FRAME];
	struct iovec iov[BATCH];
	struct mmsghdr msgs[BATCH];
	struct sockaddr_ll sll;
	int fd = packet_socket(ifname, ETHERTYPE_BENCH, &sll);
	int rcvbuf = 64 << 20;
	uint64_t frames = 0, bytes = 0, other = 0, gaps = 0, misorder = 0, t_first = 0, t_last = 0;
	uint32_t next = 0;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	struct timeval tv = { 0, 100000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (unsigned i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){ bufs[i], MAX_FRAME };
		memset(&msgs[i], 0, sizeof(msgs[i]));
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	printf("listening\n");
	fflush(stdout);
	while (!count || frames < count) {
		int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
		uint64_t t = now_ns();
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				perror("recvmmsg");
				return 1;
			}
			if (frames && t - t_last > (uint64_t)idle_ms * 1000000)
				break;
			continue;
		}
		for (int i = 0; i < n; i++) {
			if (msgs[i].msg_len != size) {
				other++;
				continue;
			}
			uint32_t seq;
			memcpy(&seq, bufs[i] + 14, 4);
			if (frames && seq < next)
				misorder++;
			else
				gaps += seq - next;
			next = seq + 1;
			if (!frames)
				t_first = t;
			t_last = t;
			frames++;
			bytes += size;
		}
	}
	struct tpacket_stats st = { 0 };
	socklen_t len = sizeof(st);
	getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len);
	printf("frames=%lu bytes=%lu ns=%lu other=%lu gaps=%lu misorder=%lu sock_drops=%u\n",
	       (unsigned long)frames, (unsigned long)bytes, (unsigned long)(t_last - t_first),
	       (unsigned long)other, (unsigned long)gaps, (unsigned long)misorder, st.tp_drops);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "send"))
		return do_send(argv[2], argv[3], (unsigned)atoi(argv[4]), atof(argv[5]));
	if (argc == 6 && !strcmp(argv[1], "count"))
		return do_count(argv[2], (unsigned)atoi(argv[3]), strtoull(argv[4], NULL, 0),
				(unsigned)atoi(argv[5]));
	fprintf(stderr, "usage: %s send IF DSTMAC SIZE SECONDS | count IF SIZE COUNT IDLE_MS\n",
		argv[0]);
	return 2;
}
