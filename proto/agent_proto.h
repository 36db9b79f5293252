/* The protocol between husk (host) and husk-init (the guest's PID 1), shared
 * by vmm/ and rootfs/ and compiled into both.
 *
 * husk-init connects at boot over AF_VSOCK to the host (CID 2), port
 * HUSK_AGENT_PORT; the VMM relays that connection to the unix socket
 * <vsock-dir>/1024. Everything travels on that one connection as frames:
 *
 *   struct agent_hdr (16 bytes, little-endian) + LENGTH bytes of payload
 *
 * ID names the process a frame is about: 0 is the container's main
 * process, an EXEC picks any other id. Payloads are fixed little-endian
 * fields (below, per type) except the config.json / process.json bytes.
 * The reader of a frame checks magic, version, type, direction and length
 * before it looks at the payload, and every payload field before use.
 *
 *   type        dir  id       payload
 *   HELLO       g→h  0        u32 version, u32 ncpus, u64 mem_kib, u64 uptime_ns
 *   CREATE      h→g  0        u32 config_len, u16 rootfs_kind, u16 nbinds,
 *                             u16 rootfs_len, rootfs source, config bytes,
 *                             nbinds × (u32 mount_index, u16 len, tag):
 *                             mounts[mount_index]'s source is the entry
 *                             named mount_index (decimal) at the root of
 *                             virtio-fs share TAG
 *   START       h→g  0        (empty)
 *   EXEC        h→g  proc     process.json bytes
 *   STDIN       h→g  proc     bytes; empty = EOF
 *   STDOUT      g→h  proc     bytes; empty = EOF
 *   STDERR      g→h  proc     bytes; empty = EOF
 *   RESIZE      h→g  proc     u16 rows, u16 cols
 *   SIGNAL      h→g  proc     u32 signo, u32 flags (AGENT_SIGNAL_ALL)
 *   EXIT        g→h  proc     u32 code, u32 signal (0: exited with code)
 *   PS          h→g  0        (empty)
 *   PS_REPLY    g→h  0        u32 count, count × u32 pid
 *   STATS       h→g  0        (empty)
 *   STATS_REPLY g→h  0        u64 memory_current, u64 cpu_usage_usec,
 *                             u64 pids_current, u64 memory_max (0: none)
 *   ERROR       g→h  proc     u32 code, message bytes (no NUL)
 *   READY       g→h  proc     (empty) the process of CREATE/EXEC is set up
 *   UPDATE      h→g  0        linux.resources JSON (`husk update`)
 *   UPDATED     g→h  0        (empty) UPDATE applied; an ERROR otherwise
 *   NETWORK     h→g  0        u16 count, count × interface (before CREATE):
 *                             6 mac, u16 mtu, u8 naddrs, u8 nroutes,
 *                             naddrs × (u8 family 4|6, u8 prefixlen, 16 addr),
 *                             nroutes × (u8 family, u8 dst_len, u8 has_gw,
 *                             u8 0, 16 dst, 16 gw, u32 metric); IPv4
 *                             addresses in the first 4 bytes, the rest 0
 *
 * The runtime's control socket (<root>/<id>/ctl, runtime/control.h) speaks
 * the same frames between a husk command ("host") and the VMM ("guest").
 */
#ifndef HUSK_PROTO_AGENT_PROTO_H
#define HUSK_PROTO_AGENT_PROTO_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HUSK_AGENT_PROTO_VERSION 3
#define HUSK_AGENT_MAGIC 0x41534b48u /* "HKSA" little-endian */
#define HUSK_AGENT_PORT 1024
#define AGENT_HDR_LEN 16u
#define AGENT_MAX_PAYLOAD (1u << 20)
#define AGENT_MAX_ERROR_MSG 4096u
#define AGENT_MAX_PIDS ((AGENT_MAX_PAYLOAD - 4) / 4)

enum agent_type {
	AGENT_HELLO = 1,
	AGENT_CREATE,
	AGENT_START,
	AGENT_EXEC,
	AGENT_STDIN,
	AGENT_STDOUT,
	AGENT_STDERR,
	AGENT_RESIZE,
	AGENT_SIGNAL,
	AGENT_EXIT,
	AGENT_PS,
	AGENT_PS_REPLY,
	AGENT_STATS,
	AGENT_STATS_REPLY,
	AGENT_ERROR,
	AGENT_READY,
	AGENT_UPDATE,
	AGENT_UPDATED,
	AGENT_NETWORK,
	AGENT_TYPE_MAX = AGENT_NETWORK,
};

/* Which side may send a type: a frame from the wrong side is an error. */
enum agent_side { AGENT_FROM_HOST, AGENT_FROM_GUEST };

enum agent_rootfs_kind {
	AGENT_ROOTFS_DIR = 0,	   /* a directory already in the guest */
	AGENT_ROOTFS_BLOCK = 1,	   /* a block device, e.g. /dev/vda (ext4) */
	AGENT_ROOTFS_VIRTIOFS = 2, /* a virtio-fs tag */
	AGENT_ROOTFS_KIND_MAX = AGENT_ROOTFS_VIRTIOFS,
};

#define AGENT_SIGNAL_ALL 1u
#define AGENT_MAX_BINDS 256u
#define AGENT_MAX_NAME 255u

struct agent_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t id;
	uint32_t length;
};

/* A decoded frame; payload points into the buffer it was parsed from. */
struct agent_msg {
	uint16_t type;
	uint32_t id;
	uint32_t length;
	const uint8_t *payload;
};

struct agent_hello {
	uint32_t version, ncpus;
	uint64_t mem_kib, uptime_ns;
};

struct agent_bind_tag {
	uint32_t mount_index;
	char tag[AGENT_MAX_NAME + 1];
};

struct agent_create {
	uint16_t rootfs_kind;
	char rootfs[AGENT_MAX_NAME + 1]; /* path, device or tag */
	const char *config;		 /* not NUL-terminated */
	uint32_t config_len;
	uint16_t nbinds;
	struct agent_bind_tag binds[AGENT_MAX_BINDS];
};

struct agent_resize {
	uint16_t rows, cols;
};

struct agent_signal {
	uint32_t signo, flags;
};

struct agent_exit {
	uint32_t code, signal;
};

struct agent_stats {
	uint64_t memory_current, cpu_usage_usec, pids_current, memory_max;
};

struct agent_error {
	uint32_t code;
	char message[AGENT_MAX_ERROR_MSG + 1];
};

/* NETWORK: the interfaces the guest configures before the container. */
#define AGENT_MAX_IFACES 4u
#define AGENT_MAX_ADDRS 16u
#define AGENT_MAX_ROUTES 32u
#define AGENT_NET_IFACE_LEN 10u
#define AGENT_NET_ADDR_LEN 18u
#define AGENT_NET_ROUTE_LEN 40u
#define AGENT_MAX_NETWORK                                                                      \
	(2u + AGENT_MAX_IFACES * (AGENT_NET_IFACE_LEN + AGENT_MAX_ADDRS * AGENT_NET_ADDR_LEN + \
				  AGENT_MAX_ROUTES * AGENT_NET_ROUTE_LEN))

struct agent_addr {
	uint8_t family; /* 4 or 6 */
	uint8_t prefixlen;
	uint8_t addr[16];
};

struct agent_route {
	uint8_t family; /* 4 or 6 */
	uint8_t dst_len;
	bool has_gw;
	uint8_t dst[16], gw[16];
	uint32_t metric;
};

struct agent_iface {
	uint8_t mac[6];
	uint16_t mtu;
	uint8_t naddrs, nroutes;
	struct agent_addr addrs[AGENT_MAX_ADDRS];
	struct agent_route routes[AGENT_MAX_ROUTES];
};

struct agent_network {
	uint16_t n;
	struct agent_iface ifs[AGENT_MAX_IFACES];
};

const char *agent_type_name(uint16_t type);

/* Parses one frame from BUF (LEN bytes) as read by SIDE's peer: returns the
 * number of bytes it took (header + payload), 0 when BUF holds no complete
 * frame yet, or -1 with the reason in WHY when the bytes are not a frame
 * FROM may send. A header whose length exceeds AGENT_MAX_PAYLOAD fails at
 * once, before its payload arrives. */
ssize_t agent_frame_parse(const uint8_t *buf, size_t len, enum agent_side from,
			  struct agent_msg *msg, char *why, size_t whylen);

/* Payload decoders: 0, or -1 with the reason in WHY. Each checks the type
 * and the exact length. */
int agent_decode_hello(const struct agent_msg *m, struct agent_hello *out, char *why,
		       size_t whylen);
int agent_decode_create(const struct agent_msg *m, struct agent_create *out, char *why,
			size_t whylen);
int agent_decode_resize(const struct agent_msg *m, struct agent_resize *out, char *why,
			size_t whylen);
int agent_decode_signal(const struct agent_msg *m, struct agent_signal *out, char *why,
			size_t whylen);
int agent_decode_exit(const struct agent_msg *m, struct agent_exit *out, char *why, size_t whylen);
int agent_decode_stats(const struct agent_msg *m, struct agent_stats *out, char *why,
		       size_t whylen);
int agent_decode_error(const struct agent_msg *m, struct agent_error *out, char *why,
		       size_t whylen);
/* NETWORK: also checks each value (MAC unicast and not zero, MTU 68 to
 * 65535, families, prefix lengths, unused address bytes zero). */
int agent_decode_network(const struct agent_msg *m, struct agent_network *out, char *why,
			 size_t whylen);
/* PS_REPLY: up to MAX pids into PIDS, their number in *N. */
int agent_decode_ps(const struct agent_msg *m, uint32_t *pids, size_t max, size_t *n, char *why,
		    size_t whylen);
/* The checks for types whose payload is raw bytes (EXEC, STDIN, ...) and for
 * empty ones; every type has one, agent_decode_any() picks it. */
int agent_decode_any(const struct agent_msg *m, char *why, size_t whylen);

/* Encoders: fill BUF (at least AGENT_HDR_LEN + payload) and return the
 * frame's length. */
size_t agent_encode_hdr(uint8_t *buf, uint16_t type, uint32_t id, uint32_t length);
size_t agent_encode_hello(uint8_t *buf, const struct agent_hello *h);
size_t agent_encode_resize(uint8_t *buf, uint32_t id, uint16_t rows, uint16_t cols);
size_t agent_encode_signal(uint8_t *buf, uint32_t id, uint32_t signo, uint32_t flags);
size_t agent_encode_exit(uint8_t *buf, uint32_t id, uint32_t code, uint32_t sig);
size_t agent_encode_stats(uint8_t *buf, const struct agent_stats *s);
/* Variable-length frames are malloc'd; NULL on allocation failure or when
 * the payload would exceed AGENT_MAX_PAYLOAD. */
uint8_t *agent_encode_create(const struct agent_create *c, size_t *len);
uint8_t *agent_encode_error(uint32_t id, uint32_t code, const char *msg, size_t *len);
/* The same with the message formatted, cut at AGENT_MAX_ERROR_MSG. */
uint8_t *agent_encode_verror(uint32_t id, uint32_t code, size_t *len, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));
uint8_t *agent_encode_ps(const uint32_t *pids, size_t n, size_t *len);
/* NULL also when a value would not pass agent_decode_network(). */
uint8_t *agent_encode_network(const struct agent_network *net, size_t *len);

/* Writes a whole frame (header + payload) to the blocking FD; -1 with errno
 * on failure (EMSGSIZE when the payload is too long). */
int agent_send(int fd, uint16_t type, uint32_t id, const void *payload, size_t len);
int agent_send_buf(int fd, const uint8_t *frame, size_t len);

/* A receive buffer for a stream: read into it, then take frames. */
struct agent_rx {
	uint8_t *buf;
	size_t len, cap;
	size_t taken; /* bytes of the frame last returned, dropped next call */
};
/* Reads what FD has (one read(2)): >0 bytes read, 0 EOF, -1 errno. */
ssize_t agent_rx_fill(struct agent_rx *rx, int fd);
/* Next complete frame: 1 with *MSG (valid until the next call), 0 none yet,
 * -1 malformed (WHY says why). */
int agent_rx_next(struct agent_rx *rx, enum agent_side from, struct agent_msg *msg, char *why,
		  size_t whylen);
void agent_rx_free(struct agent_rx *rx);

#endif
