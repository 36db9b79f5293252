/* The host<->guest agent protocol: see agent_proto.h. Compiled into husk and
 * into husk-init; nothing here depends on either side. */
#include "proto/agent_proto.h"

#include "base/iov.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static int fail(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static const char *const type_names[] = {
	[AGENT_HELLO] = "HELLO",     [AGENT_CREATE] = "CREATE",
	[AGENT_START] = "START",     [AGENT_EXEC] = "EXEC",
	[AGENT_STDIN] = "STDIN",     [AGENT_STDOUT] = "STDOUT",
	[AGENT_STDERR] = "STDERR",   [AGENT_RESIZE] = "RESIZE",
	[AGENT_SIGNAL] = "SIGNAL",   [AGENT_EXIT] = "EXIT",
	[AGENT_PS] = "PS",	     [AGENT_PS_REPLY] = "PS_REPLY",
	[AGENT_STATS] = "STATS",     [AGENT_STATS_REPLY] = "STATS_REPLY",
	[AGENT_ERROR] = "ERROR",     [AGENT_READY] = "READY",
	[AGENT_UPDATE] = "UPDATE",   [AGENT_UPDATED] = "UPDATED",
	[AGENT_NETWORK] = "NETWORK",
};

const char *agent_type_name(uint16_t type)
{
	if (type == 0 || type > AGENT_TYPE_MAX)
		return "UNKNOWN";
	return type_names[type];
}

/* Per type: who sends it, and the payload length it must have (exact when
 * fixed, else the bounds). */
struct type_rule {
	enum agent_side from;
	uint32_t min, max;
};

static const struct type_rule rules[AGENT_TYPE_MAX + 1] = {
	[AGENT_HELLO] = { AGENT_FROM_GUEST, 24, 24 },
	[AGENT_CREATE] = { AGENT_FROM_HOST, 10, AGENT_MAX_PAYLOAD },
	[AGENT_START] = { AGENT_FROM_HOST, 0, 0 },
	[AGENT_EXEC] = { AGENT_FROM_HOST, 1, AGENT_MAX_PAYLOAD },
	[AGENT_STDIN] = { AGENT_FROM_HOST, 0, AGENT_MAX_PAYLOAD },
	[AGENT_STDOUT] = { AGENT_FROM_GUEST, 0, AGENT_MAX_PAYLOAD },
	[AGENT_STDERR] = { AGENT_FROM_GUEST, 0, AGENT_MAX_PAYLOAD },
	[AGENT_RESIZE] = { AGENT_FROM_HOST, 4, 4 },
	[AGENT_SIGNAL] = { AGENT_FROM_HOST, 8, 8 },
	[AGENT_EXIT] = { AGENT_FROM_GUEST, 8, 8 },
	[AGENT_PS] = { AGENT_FROM_HOST, 0, 0 },
	[AGENT_PS_REPLY] = { AGENT_FROM_GUEST, 4, AGENT_MAX_PAYLOAD },
	[AGENT_STATS] = { AGENT_FROM_HOST, 0, 0 },
	[AGENT_STATS_REPLY] = { AGENT_FROM_GUEST, 32, 32 },
	[AGENT_ERROR] = { AGENT_FROM_GUEST, 4, 4 + AGENT_MAX_ERROR_MSG },
	[AGENT_READY] = { AGENT_FROM_GUEST, 0, 0 },
	[AGENT_UPDATE] = { AGENT_FROM_HOST, 2, 65536 },
	[AGENT_UPDATED] = { AGENT_FROM_GUEST, 0, 0 },
	[AGENT_NETWORK] = { AGENT_FROM_HOST, 2, AGENT_MAX_NETWORK },
};

ssize_t agent_frame_parse(const uint8_t *buf, size_t len, enum agent_side from,
			  struct agent_msg *msg, char *why, size_t whylen)
{
	if (len < AGENT_HDR_LEN)
		return 0;
	struct agent_hdr h = {
		.magic = get32(buf),
		.version = get16(buf + 4),
		.type = get16(buf + 6),
		.id = get32(buf + 8),
		.length = get32(buf + 12),
	};
	if (h.magic != HUSK_AGENT_MAGIC)
		return fail(why, whylen, "bad frame magic 0x%08x", h.magic);
	if (h.version != HUSK_AGENT_PROTO_VERSION)
		return fail(why, whylen,
			    "agent protocol version mismatch: peer speaks %u, this side %u",
			    h.version, HUSK_AGENT_PROTO_VERSION);
	if (h.type == 0 || h.type > AGENT_TYPE_MAX)
		return fail(why, whylen, "unknown frame type %u", h.type);
	const struct type_rule *r = &rules[h.type];
	if (r->from != from)
		return fail(why, whylen, "%s frame from the %s", agent_type_name(h.type),
			    from == AGENT_FROM_HOST ? "host" : "guest");
	if (h.length < r->min || h.length > r->max)
		return fail(why, whylen, "%s frame with a %u-byte payload (want %u to %u)",
			    agent_type_name(h.type), h.length, r->min, r->max);
	if (len - AGENT_HDR_LEN < h.length)
		return 0;
	msg->type = h.type;
	msg->id = h.id;
	msg->length = h.length;
	msg->payload = buf + AGENT_HDR_LEN;
	return (ssize_t)(AGENT_HDR_LEN + h.length);
}

static int want_type(const struct agent_msg *m, uint16_t type, char *why, size_t whylen)
{
	if (m->type != type)
		return fail(why, whylen, "expected %s, got %s", agent_type_name(type),
			    agent_type_name(m->type));
	if (m->length < rules[type].min || m->length > rules[type].max)
		return fail(why, whylen, "%s: bad payload length %u", agent_type_name(type),
			    m->length);
	return 0;
}

int agent_decode_hello(const struct agent_msg *m, struct agent_hello *out, char *why, size_t whylen)
{
	if (want_type(m, AGENT_HELLO, why, whylen) < 0)
		return -1;
	out->version = get32(m->payload);
	out->ncpus = get32(m->payload + 4);
	out->mem_kib = get64(m->payload + 8);
	out->uptime_ns = get64(m->payload + 16);
	if (out->version != HUSK_AGENT_PROTO_VERSION)
		return fail(why, whylen, "HELLO: guest agent speaks protocol %u, husk %u",
			    out->version, HUSK_AGENT_PROTO_VERSION);
	return 0;
}

/* A name in a payload: no NUL, no '/' unless a path is allowed. */
static int check_name(const uint8_t *p, size_t n, bool path, const char *what, char *why,
		      size_t whylen)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == 0 || p[i] < 0x20 || p[i] == 0x7f)
			return fail(why, whylen, "%s: control byte at %zu", what, i);
		if (!path && p[i] == '/')
			return fail(why, whylen, "%s: '/' in a tag", what);
	}
	return 0;
}

int agent_decode_create(const struct agent_msg *m, struct agent_create *out, char *why,
			size_t whylen)
{
	if (want_type(m, AGENT_CREATE, why, whylen) < 0)
		return -1;
	const uint8_t *p = m->payload;
	size_t left = m->length;
	uint32_t config_len = get32(p);
	out->rootfs_kind = get16(p + 4);
	out->nbinds = get16(p + 6);
	uint16_t rootfs_len = get16(p + 8);
	p += 10;
	left -= 10;
	if (out->rootfs_kind > AGENT_ROOTFS_KIND_MAX)
		return fail(why, whylen, "CREATE: unknown rootfs kind %u", out->rootfs_kind);
	if (out->nbinds > AGENT_MAX_BINDS)
		return fail(why, whylen, "CREATE: %u bind tags (at most %u)", out->nbinds,
			    AGENT_MAX_BINDS);
	if (rootfs_len == 0 || rootfs_len > AGENT_MAX_NAME || rootfs_len > left)
		return fail(why, whylen, "CREATE: bad rootfs length %u", rootfs_len);
	if (check_name(p, rootfs_len, out->rootfs_kind != AGENT_ROOTFS_VIRTIOFS, "CREATE rootfs",
		       why, whylen) < 0)
		return -1;
	memcpy(out->rootfs, p, rootfs_len);
	out->rootfs[rootfs_len] = '\0';
	if (out->rootfs_kind != AGENT_ROOTFS_VIRTIOFS && out->rootfs[0] != '/')
		return fail(why, whylen, "CREATE: rootfs path not absolute");
	p += rootfs_len;
	left -= rootfs_len;
	if (config_len == 0 || config_len > left)
		return fail(why, whylen, "CREATE: bad config length %u", config_len);
	out->config = (const char *)p;
	out->config_len = config_len;
	p += config_len;
	left -= config_len;
	for (uint16_t i = 0; i < out->nbinds; i++) {
		if (left < 6)
			return fail(why, whylen, "CREATE: bind tag %u truncated", i);
		out->binds[i].mount_index = get32(p);
		uint16_t n = get16(p + 4);
		p += 6;
		left -= 6;
		if (n == 0 || n > AGENT_MAX_NAME || n > left)
			return fail(why, whylen, "CREATE: bind tag %u: bad length %u", i, n);
		if (check_name(p, n, false, "CREATE bind tag", why, whylen) < 0)
			return -1;
		memcpy(out->binds[i].tag, p, n);
		out->binds[i].tag[n] = '\0';
		p += n;
		left -= n;
	}
	if (left)
		return fail(why, whylen, "CREATE: %zu trailing bytes", left);
	return 0;
}

int agent_decode_resize(const struct agent_msg *m, struct agent_resize *out, char *why,
			size_t whylen)
{
	if (want_type(m, AGENT_RESIZE, why, whylen) < 0)
		return -1;
	out->rows = get16(m->payload);
	out->cols = get16(m->payload + 2);
	return 0;
}

int agent_decode_signal(const struct agent_msg *m, struct agent_signal *out, char *why,
			size_t whylen)
{
	if (want_type(m, AGENT_SIGNAL, why, whylen) < 0)
		return -1;
	out->signo = get32(m->payload);
	out->flags = get32(m->payload + 4);
	if (out->signo == 0 || out->signo > 64)
		return fail(why, whylen, "SIGNAL: bad signal number %u", out->signo);
	if (out->flags & ~AGENT_SIGNAL_ALL)
		return fail(why, whylen, "SIGNAL: unknown flags 0x%x", out->flags);
	return 0;
}

int agent_decode_exit(const struct agent_msg *m, struct agent_exit *out, char *why, size_t whylen)
{
	if (want_type(m, AGENT_EXIT, why, whylen) < 0)
		return -1;
	out->code = get32(m->payload);
	out->signal = get32(m->payload + 4);
	if (out->code > 255)
		return fail(why, whylen, "EXIT: code %u out of range", out->code);
	if (out->signal > 64)
		return fail(why, whylen, "EXIT: bad signal %u", out->signal);
	return 0;
}

int agent_decode_stats(const struct agent_msg *m, struct agent_stats *out, char *why, size_t whylen)
{
	if (want_type(m, AGENT_STATS_REPLY, why, whylen) < 0)
		return -1;
	out->memory_current = get64(m->payload);
	out->cpu_usage_usec = get64(m->payload + 8);
	out->pids_current = get64(m->payload + 16);
	out->memory_max = get64(m->payload + 24);
	return 0;
}

int agent_decode_error(const struct agent_msg *m, struct agent_error *out, char *why, size_t whylen)
{
	if (want_type(m, AGENT_ERROR, why, whylen) < 0)
		return -1;
	out->code = get32(m->payload);
	size_t n = m->length - 4;
	/* The message is for humans: keep printable bytes, replace the rest. */
	for (size_t i = 0; i < n; i++) {
		uint8_t c = m->payload[4 + i];
		out->message[i] = (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c;
	}
	out->message[n] = '\0';
	return 0;
}

int agent_decode_ps(const struct agent_msg *m, uint32_t *pids, size_t max, size_t *n, char *why,
		    size_t whylen)
{
	if (want_type(m, AGENT_PS_REPLY, why, whylen) < 0)
		return -1;
	uint32_t count = get32(m->payload);
	if (count > AGENT_MAX_PIDS || (uint64_t)count * 4 != m->length - 4)
		return fail(why, whylen, "PS_REPLY: %u pids in a %u-byte payload", count,
			    m->length);
	if (count > max)
		return fail(why, whylen, "PS_REPLY: %u pids, room for %zu", count, max);
	for (uint32_t i = 0; i < count; i++) {
		pids[i] = get32(m->payload + 4 + 4 * (size_t)i);
		if (pids[i] == 0 || pids[i] > (1u << 22))
			return fail(why, whylen, "PS_REPLY: bad pid %u", pids[i]);
	}
	*n = count;
	return 0;
}

int agent_decode_any(const struct agent_msg *m, char *why, size_t whylen)
{
	union {
		struct agent_hello hello;
		struct agent_resize resize;
		struct agent_signal sig;
		struct agent_exit exit;
		struct agent_stats stats;
		struct agent_error error;
	} u;
	static struct agent_create create; /* large: not on the stack */
	static struct agent_network network;
	static uint32_t pids[1024];
	size_t n;

	switch (m->type) {
	case AGENT_HELLO: return agent_decode_hello(m, &u.hello, why, whylen);
	case AGENT_CREATE: return agent_decode_create(m, &create, why, whylen);
	case AGENT_NETWORK: return agent_decode_network(m, &network, why, whylen);
	case AGENT_RESIZE: return agent_decode_resize(m, &u.resize, why, whylen);
	case AGENT_SIGNAL: return agent_decode_signal(m, &u.sig, why, whylen);
	case AGENT_EXIT: return agent_decode_exit(m, &u.exit, why, whylen);
	case AGENT_STATS_REPLY: return agent_decode_stats(m, &u.stats, why, whylen);
	case AGENT_ERROR: return agent_decode_error(m, &u.error, why, whylen);
	case AGENT_PS_REPLY:
		return agent_decode_ps(m, pids, sizeof(pids) / sizeof(pids[0]), &n, why, whylen);
	default:
		if (m->type == 0 || m->type > AGENT_TYPE_MAX)
			return fail(why, whylen, "unknown frame type %u", m->type);
		return want_type(m, m->type, why, whylen);
	}
}

size_t agent_encode_hdr(uint8_t *buf, uint16_t type, uint32_t id, uint32_t length)
{
	put32(buf, HUSK_AGENT_MAGIC);
	put16(buf + 4, HUSK_AGENT_PROTO_VERSION);
	put16(buf + 6, type);
	put32(buf + 8, id);
	put32(buf + 12, length);
	return AGENT_HDR_LEN;
}

size_t agent_encode_hello(uint8_t *buf, const struct agent_hello *h)
{
	agent_encode_hdr(buf, AGENT_HELLO, 0, 24);
	put32(buf + 16, h->version);
	put32(buf + 20, h->ncpus);
	put64(buf + 24, h->mem_kib);
	put64(buf + 32, h->uptime_ns);
	return AGENT_HDR_LEN + 24;
}

size_t agent_encode_resize(uint8_t *buf, uint32_t id, uint16_t rows, uint16_t cols)
{
	agent_encode_hdr(buf, AGENT_RESIZE, id, 4);
	put16(buf + 16, rows);
	put16(buf + 18, cols);
	return AGENT_HDR_LEN + 4;
}

size_t agent_encode_signal(uint8_t *buf, uint32_t id, uint32_t signo, uint32_t flags)
{
	agent_encode_hdr(buf, AGENT_SIGNAL, id, 8);
	put32(buf + 16, signo);
	put32(buf + 20, flags);
	return AGENT_HDR_LEN + 8;
}

size_t agent_encode_exit(uint8_t *buf, uint32_t id, uint32_t code, uint32_t sig)
{
	agent_encode_hdr(buf, AGENT_EXIT, id, 8);
	put32(buf + 16, code);
	put32(buf + 20, sig);
	return AGENT_HDR_LEN + 8;
}

size_t agent_encode_stats(uint8_t *buf, const struct agent_stats *s)
{
	agent_encode_hdr(buf, AGENT_STATS_REPLY, 0, 32);
	put64(buf + 16, s->memory_current);
	put64(buf + 24, s->cpu_usage_usec);
	put64(buf + 32, s->pids_current);
	put64(buf + 40, s->memory_max);
	return AGENT_HDR_LEN + 32;
}

uint8_t *agent_encode_create(const struct agent_create *c, size_t *len)
{
	size_t rootfs_len = strlen(c->rootfs);
	size_t n = 10 + rootfs_len + c->config_len;

	if (rootfs_len == 0 || rootfs_len > AGENT_MAX_NAME || c->nbinds > AGENT_MAX_BINDS)
		return NULL;
	for (uint16_t i = 0; i < c->nbinds; i++)
		n += 6 + strlen(c->binds[i].tag);
	if (n > AGENT_MAX_PAYLOAD)
		return NULL;
	uint8_t *buf = malloc(AGENT_HDR_LEN + n), *p = buf + AGENT_HDR_LEN;
	if (!buf)
		return NULL;
	agent_encode_hdr(buf, AGENT_CREATE, 0, (uint32_t)n);
	put32(p, c->config_len);
	put16(p + 4, c->rootfs_kind);
	put16(p + 6, c->nbinds);
	put16(p + 8, (uint16_t)rootfs_len);
	p += 10;
	memcpy(p, c->rootfs, rootfs_len);
	p += rootfs_len;
	memcpy(p, c->config, c->config_len);
	p += c->config_len;
	for (uint16_t i = 0; i < c->nbinds; i++) {
		size_t t = strlen(c->binds[i].tag);
		put32(p, c->binds[i].mount_index);
		put16(p + 4, (uint16_t)t);
		memcpy(p + 6, c->binds[i].tag, t);
		p += 6 + t;
	}
	*len = AGENT_HDR_LEN + n;
	return buf;
}

uint8_t *agent_encode_error(uint32_t id, uint32_t code, const char *msg, size_t *len)
{
	size_t n = strlen(msg);
	if (n > AGENT_MAX_ERROR_MSG)
		n = AGENT_MAX_ERROR_MSG;
	uint8_t *buf = malloc(AGENT_HDR_LEN + 4 + n);
	if (!buf)
		return NULL;
	agent_encode_hdr(buf, AGENT_ERROR, id, (uint32_t)(4 + n));
	put32(buf + 16, code);
	memcpy(buf + 20, msg, n);
	*len = AGENT_HDR_LEN + 4 + n;
	return buf;
}

uint8_t *agent_encode_verror(uint32_t id, uint32_t code, size_t *len, const char *fmt, va_list ap)
{
	char msg[AGENT_MAX_ERROR_MSG + 1];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	return agent_encode_error(id, code, msg, len);
}

uint8_t *agent_encode_ps(const uint32_t *pids, size_t n, size_t *len)
{
	if (n > AGENT_MAX_PIDS)
		return NULL;
	uint8_t *buf = malloc(AGENT_HDR_LEN + 4 + 4 * n);
	if (!buf)
		return NULL;
	agent_encode_hdr(buf, AGENT_PS_REPLY, 0, (uint32_t)(4 + 4 * n));
	put32(buf + 16, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		put32(buf + 20 + 4 * i, pids[i]);
	*len = AGENT_HDR_LEN + 4 + 4 * n;
	return buf;
}

static int write_iov(int fd, struct iovec *iov, size_t cnt)
{
	while (cnt > 0) {
		ssize_t w = writev(fd, iov, (int)cnt);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		iov_advance(&iov, &cnt, (size_t)w);
	}
	return 0;
}

int agent_send(int fd, uint16_t type, uint32_t id, const void *payload, size_t len)
{
	uint8_t hdr[AGENT_HDR_LEN];

	if (len > AGENT_MAX_PAYLOAD) {
		errno = EMSGSIZE;
		return -1;
	}
	agent_encode_hdr(hdr, type, id, (uint32_t)len);
	struct iovec iov[2] = { { hdr, sizeof(hdr) }, { (void *)payload, len } };
	return write_iov(fd, iov, len ? 2 : 1);
}

int agent_send_buf(int fd, const uint8_t *frame, size_t len)
{
	struct iovec iov = { (void *)frame, len };
	return write_iov(fd, &iov, 1);
}

ssize_t agent_rx_fill(struct agent_rx *rx, int fd)
{
	if (rx->taken) {
		memmove(rx->buf, rx->buf + rx->taken, rx->len - rx->taken);
		rx->len -= rx->taken;
		rx->taken = 0;
	}
	if (rx->cap - rx->len < 65536) {
		size_t cap = rx->cap ? rx->cap * 2 : 131072;
		if (cap > 2 * (AGENT_HDR_LEN + AGENT_MAX_PAYLOAD) + 65536)
			cap = 2 * (AGENT_HDR_LEN + AGENT_MAX_PAYLOAD) + 65536;
		if (cap > rx->cap) {
			uint8_t *b = realloc(rx->buf, cap);
			if (!b)
				return -1;
			rx->buf = b;
			rx->cap = cap;
		}
	}
	if (rx->cap == rx->len) {
		errno = ENOBUFS;
		return -1;
	}
	ssize_t r;
	do
		r = read(fd, rx->buf + rx->len, rx->cap - rx->len);
	while (r < 0 && errno == EINTR);
	if (r > 0)
		rx->len += (size_t)r;
	return r;
}

int agent_rx_next(struct agent_rx *rx, enum agent_side from, struct agent_msg *msg, char *why,
		  size_t whylen)
{
	if (rx->taken) {
		memmove(rx->buf, rx->buf + rx->taken, rx->len - rx->taken);
		rx->len -= rx->taken;
		rx->taken = 0;
	}
	ssize_t n = agent_frame_parse(rx->buf, rx->len, from, msg, why, whylen);
	if (n <= 0)
		return (int)n;
	rx->taken = (size_t)n;
	return 1;
}

void agent_rx_free(struct agent_rx *rx)
{
	free(rx->buf);
	*rx = (struct agent_rx){ 0 };
}

/* ---- NETWORK ---- */

/* An address of FAMILY (4 or 6) with prefix PREFIX: the family known, the
 * prefix in range, an IPv4 address's unused 12 bytes zero. */
static int check_addr(uint8_t family, uint8_t prefix, const uint8_t *a, const char *what,
		      unsigned i, unsigned k, char *why, size_t whylen)
{
	if (family != 4 && family != 6)
		return fail(why, whylen, "NETWORK: interface %u %s %u: family %u (want 4 or 6)", i,
			    what, k, family);
	if (prefix > (family == 4 ? 32 : 128))
		return fail(why, whylen, "NETWORK: interface %u %s %u: prefix length %u", i, what,
			    k, prefix);
	for (unsigned b = family == 4 ? 4 : 16; b < 16; b++)
		if (a[b])
			return fail(why, whylen,
				    "NETWORK: interface %u %s %u: IPv4 address with stray bytes", i,
				    what, k);
	return 0;
}

static int check_iface_head(const struct agent_iface *f, unsigned i, char *why, size_t whylen)
{
	static const uint8_t zero[6];

	if ((f->mac[0] & 1) || memcmp(f->mac, zero, 6) == 0)
		return fail(why, whylen, "NETWORK: interface %u: MAC not unicast", i);
	if (f->mtu < 68)
		return fail(why, whylen, "NETWORK: interface %u: MTU %u (want 68 to 65535)", i,
			    f->mtu);
	if (f->naddrs > AGENT_MAX_ADDRS || f->nroutes > AGENT_MAX_ROUTES)
		return fail(why, whylen,
			    "NETWORK: interface %u: %u addresses, %u routes (at most %u, %u)", i,
			    f->naddrs, f->nroutes, AGENT_MAX_ADDRS, AGENT_MAX_ROUTES);
	return 0;
}

int agent_decode_network(const struct agent_msg *m, struct agent_network *out, char *why,
			 size_t whylen)
{
	if (want_type(m, AGENT_NETWORK, why, whylen) < 0)
		return -1;
	const uint8_t *p = m->payload;
	size_t left = m->length - 2;
	out->n = get16(p);
	p += 2;
	if (out->n > AGENT_MAX_IFACES)
		return fail(why, whylen, "NETWORK: %u interfaces (at most %u)", out->n,
			    AGENT_MAX_IFACES);
	for (unsigned i = 0; i < out->n; i++) {
		struct agent_iface *f = &out->ifs[i];
		if (left < AGENT_NET_IFACE_LEN)
			return fail(why, whylen, "NETWORK: interface %u truncated", i);
		memcpy(f->mac, p, 6);
		f->mtu = get16(p + 6);
		f->naddrs = p[8];
		f->nroutes = p[9];
		p += AGENT_NET_IFACE_LEN;
		left -= AGENT_NET_IFACE_LEN;
		if (check_iface_head(f, i, why, whylen) < 0)
			return -1;
		if (left < (size_t)f->naddrs * AGENT_NET_ADDR_LEN +
				   (size_t)f->nroutes * AGENT_NET_ROUTE_LEN)
			return fail(why, whylen,
				    "NETWORK: interface %u: addresses or routes truncated", i);
		for (unsigned k = 0; k < f->naddrs; k++) {
			struct agent_addr *a = &f->addrs[k];
			a->family = p[0];
			a->prefixlen = p[1];
			memcpy(a->addr, p + 2, 16);
			if (check_addr(a->family, a->prefixlen, a->addr, "address", i, k, why,
				       whylen) < 0)
				return -1;
			p += AGENT_NET_ADDR_LEN;
			left -= AGENT_NET_ADDR_LEN;
		}
		for (unsigned k = 0; k < f->nroutes; k++) {
			struct agent_route *r = &f->routes[k];
			r->family = p[0];
			r->dst_len = p[1];
			if (p[2] > 1 || p[3])
				return fail(why, whylen,
					    "NETWORK: interface %u route %u: bad flags", i, k);
			r->has_gw = p[2];
			memcpy(r->dst, p + 4, 16);
			memcpy(r->gw, p + 20, 16);
			r->metric = get32(p + 36);
			if (check_addr(r->family, r->dst_len, r->dst, "route", i, k, why, whylen) <
				    0 ||
			    check_addr(r->family, 0, r->gw, "route gateway", i, k, why, whylen) < 0)
				return -1;
			p += AGENT_NET_ROUTE_LEN;
			left -= AGENT_NET_ROUTE_LEN;
		}
	}
	if (left)
		return fail(why, whylen, "NETWORK: %zu trailing bytes", left);
	return 0;
}

uint8_t *agent_encode_network(const struct agent_network *net, size_t *len)
{
	size_t n = 2;

	if (net->n > AGENT_MAX_IFACES)
		return NULL;
	for (unsigned i = 0; i < net->n; i++) {
		const struct agent_iface *f = &net->ifs[i];
		if (check_iface_head(f, i, NULL, 0) < 0)
			return NULL;
		for (unsigned k = 0; k < f->naddrs; k++)
			if (check_addr(f->addrs[k].family, f->addrs[k].prefixlen, f->addrs[k].addr,
				       "address", i, k, NULL, 0) < 0)
				return NULL;
		for (unsigned k = 0; k < f->nroutes; k++)
			if (check_addr(f->routes[k].family, f->routes[k].dst_len, f->routes[k].dst,
				       "route", i, k, NULL, 0) < 0 ||
			    check_addr(f->routes[k].family, 0, f->routes[k].gw, "route", i, k, NULL,
				       0) < 0)
				return NULL;
		n += AGENT_NET_IFACE_LEN + (size_t)f->naddrs * AGENT_NET_ADDR_LEN +
		     (size_t)f->nroutes * AGENT_NET_ROUTE_LEN;
	}
	uint8_t *buf = calloc(1, AGENT_HDR_LEN + n), *p = buf + AGENT_HDR_LEN;
	if (!buf)
		return NULL;
	agent_encode_hdr(buf, AGENT_NETWORK, 0, (uint32_t)n);
	put16(p, net->n);
	p += 2;
	for (unsigned i = 0; i < net->n; i++) {
		const struct agent_iface *f = &net->ifs[i];
		memcpy(p, f->mac, 6);
		put16(p + 6, f->mtu);
		p[8] = f->naddrs;
		p[9] = f->nroutes;
		p += AGENT_NET_IFACE_LEN;
		for (unsigned k = 0; k < f->naddrs; k++, p += AGENT_NET_ADDR_LEN) {
			p[0] = f->addrs[k].family;
			p[1] = f->addrs[k].prefixlen;
			memcpy(p + 2, f->addrs[k].addr, 16);
		}
		for (unsigned k = 0; k < f->nroutes; k++, p += AGENT_NET_ROUTE_LEN) {
			const struct agent_route *r = &f->routes[k];
			p[0] = r->family;
			p[1] = r->dst_len;
			p[2] = r->has_gw;
			memcpy(p + 4, r->dst, 16);
			memcpy(p + 20, r->gw, 16);
			put32(p + 36, r->metric);
		}
	}
	*len = AGENT_HDR_LEN + n;
	return buf;
}
