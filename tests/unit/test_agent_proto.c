/* The host<->guest agent protocol codec (vmm/agent_proto.c): round trips,
 * and every malformed frame refused with a reason. The libFuzzer corpus in
 * tests/fuzz/corpus/agent is replayed through both sides' decoders. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/unit/tap.h"
#include "proto/agent_proto.h"

static char why[512];

TEST(agent_hdr_round_trip)
{
	uint8_t buf[AGENT_HDR_LEN + 8];
	struct agent_msg m;
	struct agent_exit e;

	size_t n = agent_encode_exit(buf, 77, 3, 0);
	CHECK_INT(n, AGENT_HDR_LEN + 8);
	/* Bytes on the wire are little-endian. */
	CHECK_INT(buf[0], 0x48);
	CHECK_INT(buf[4], HUSK_AGENT_PROTO_VERSION);
	CHECK_INT(buf[6], AGENT_EXIT);
	CHECK_INT(buf[8], 77);
	CHECK_INT(buf[12], 8);
	CHECK_INT(agent_frame_parse(buf, n, AGENT_FROM_GUEST, &m, why, sizeof(why)), (ssize_t)n);
	CHECK_INT(m.type, AGENT_EXIT);
	CHECK_INT(m.id, 77);
	CHECK_INT(agent_decode_exit(&m, &e, why, sizeof(why)), 0);
	CHECK_INT(e.code, 3);
	CHECK_INT(e.signal, 0);
	/* Incomplete frames ask for more, at every length. */
	for (size_t k = 0; k < n; k++)
		CHECK_INT(agent_frame_parse(buf, k, AGENT_FROM_GUEST, &m, why, sizeof(why)), 0);
}

TEST(agent_rejects_bad_headers)
{
	uint8_t buf[AGENT_HDR_LEN + 8];
	struct agent_msg m;

	agent_encode_exit(buf, 1, 0, 0);
	buf[0] ^= 1;
	CHECK_INT(agent_frame_parse(buf, sizeof(buf), AGENT_FROM_GUEST, &m, why, sizeof(why)), -1);
	CHECK(strstr(why, "magic"));

	agent_encode_exit(buf, 1, 0, 0);
	buf[4] = 9;
	CHECK_INT(agent_frame_parse(buf, sizeof(buf), AGENT_FROM_GUEST, &m, why, sizeof(why)), -1);
	CHECK_STR(why, "agent protocol version mismatch: peer speaks 9, this side 3");

	agent_encode_exit(buf, 1, 0, 0);
	buf[6] = 0;
	CHECK_INT(agent_frame_parse(buf, sizeof(buf), AGENT_FROM_GUEST, &m, why, sizeof(why)), -1);
	CHECK(strstr(why, "unknown frame type 0"));
	buf[6] = AGENT_TYPE_MAX + 1;
	CHECK_INT(agent_frame_parse(buf, sizeof(buf), AGENT_FROM_GUEST, &m, why, sizeof(why)), -1);

	/* EXIT comes from the guest only. */
	agent_encode_exit(buf, 1, 0, 0);
	CHECK_INT(agent_frame_parse(buf, sizeof(buf), AGENT_FROM_HOST, &m, why, sizeof(why)), -1);
	CHECK_STR(why, "EXIT frame from the host");

	/* A fixed-size payload of the wrong size. */
	agent_encode_exit(buf, 1, 0, 0);
	buf[12] = 7;
	CHECK_INT(agent_frame_parse(buf, sizeof(buf), AGENT_FROM_GUEST, &m, why, sizeof(why)), -1);
	CHECK(strstr(why, "7-byte payload"));

	/* A length beyond the bound fails on the header alone. */
	agent_encode_hdr(buf, AGENT_STDOUT, 1, AGENT_MAX_PAYLOAD + 1);
	CHECK_INT(agent_frame_parse(buf, AGENT_HDR_LEN, AGENT_FROM_GUEST, &m, why, sizeof(why)),
		  -1);
}

TEST(agent_payload_checks)
{
	uint8_t buf[AGENT_HDR_LEN + 32];
	struct agent_msg m;
	struct agent_exit e;
	struct agent_signal s;
	struct agent_hello h = { HUSK_AGENT_PROTO_VERSION, 2, 262144, 123456789 }, h2;

	agent_encode_exit(buf, 1, 256, 0);
	agent_frame_parse(buf, sizeof(buf), AGENT_FROM_GUEST, &m, why, sizeof(why));
	CHECK_INT(agent_decode_exit(&m, &e, why, sizeof(why)), -1);
	agent_encode_exit(buf, 1, 137, 65);
	agent_frame_parse(buf, sizeof(buf), AGENT_FROM_GUEST, &m, why, sizeof(why));
	CHECK_INT(agent_decode_exit(&m, &e, why, sizeof(why)), -1);

	agent_encode_signal(buf, 0, 15, AGENT_SIGNAL_ALL);
	CHECK(agent_frame_parse(buf, sizeof(buf), AGENT_FROM_HOST, &m, why, sizeof(why)) > 0);
	CHECK_INT(agent_decode_signal(&m, &s, why, sizeof(why)), 0);
	CHECK_INT(s.signo, 15);
	CHECK_INT(s.flags, AGENT_SIGNAL_ALL);
	agent_encode_signal(buf, 0, 0, 0);
	agent_frame_parse(buf, sizeof(buf), AGENT_FROM_HOST, &m, why, sizeof(why));
	CHECK_INT(agent_decode_signal(&m, &s, why, sizeof(why)), -1);
	agent_encode_signal(buf, 0, 9, 2);
	agent_frame_parse(buf, sizeof(buf), AGENT_FROM_HOST, &m, why, sizeof(why));
	CHECK_INT(agent_decode_signal(&m, &s, why, sizeof(why)), -1);

	agent_encode_hello(buf, &h);
	CHECK(agent_frame_parse(buf, sizeof(buf), AGENT_FROM_GUEST, &m, why, sizeof(why)) > 0);
	CHECK_INT(agent_decode_hello(&m, &h2, why, sizeof(why)), 0);
	CHECK_INT(h2.ncpus, 2);
	CHECK_INT(h2.mem_kib, 262144);
	CHECK_INT(h2.uptime_ns, 123456789);
	h.version = HUSK_AGENT_PROTO_VERSION + 1;
	agent_encode_hello(buf, &h);
	agent_frame_parse(buf, sizeof(buf), AGENT_FROM_GUEST, &m, why, sizeof(why));
	CHECK_INT(agent_decode_hello(&m, &h2, why, sizeof(why)), -1);
	CHECK(strstr(why, "protocol 4"));

	/* A decoder refuses a frame of another type. */
	CHECK_INT(agent_decode_exit(&m, &e, why, sizeof(why)), -1);
	CHECK_STR(why, "expected EXIT, got HELLO");
}

TEST(agent_create_round_trip)
{
	static struct agent_create c, d;
	struct agent_msg m;
	size_t len;
	const char *cfg = "{\"ociVersion\":\"1.1.0\"}";

	c.rootfs_kind = AGENT_ROOTFS_VIRTIOFS;
	strcpy(c.rootfs, "rootfs");
	c.config = cfg;
	c.config_len = (uint32_t)strlen(cfg);
	c.nbinds = 2;
	c.binds[0].mount_index = 3;
	strcpy(c.binds[0].tag, "bind3");
	c.binds[1].mount_index = 7;
	strcpy(c.binds[1].tag, "bind7");
	uint8_t *f = agent_encode_create(&c, &len);
	CHECK(f);
	CHECK_INT(agent_frame_parse(f, len, AGENT_FROM_HOST, &m, why, sizeof(why)), (ssize_t)len);
	CHECK_INT(agent_decode_create(&m, &d, why, sizeof(why)), 0);
	CHECK_INT(d.rootfs_kind, AGENT_ROOTFS_VIRTIOFS);
	CHECK_STR(d.rootfs, "rootfs");
	CHECK_INT(d.config_len, strlen(cfg));
	CHECK(memcmp(d.config, cfg, d.config_len) == 0);
	CHECK_INT(d.nbinds, 2);
	CHECK_INT(d.binds[1].mount_index, 7);
	CHECK_STR(d.binds[1].tag, "bind7");

	/* Truncating the last tag, or a trailing byte, is refused. */
	m.length--;
	CHECK_INT(agent_decode_create(&m, &d, why, sizeof(why)), -1);
	free(f);

	/* A tag with '/' would be a path. */
	strcpy(c.binds[0].tag, "../x");
	f = agent_encode_create(&c, &len);
	agent_frame_parse(f, len, AGENT_FROM_HOST, &m, why, sizeof(why));
	CHECK_INT(agent_decode_create(&m, &d, why, sizeof(why)), -1);
	CHECK(strstr(why, "'/'"));
	free(f);

	/* A block rootfs must be an absolute path. */
	c.nbinds = 0;
	c.rootfs_kind = AGENT_ROOTFS_BLOCK;
	strcpy(c.rootfs, "vda");
	f = agent_encode_create(&c, &len);
	agent_frame_parse(f, len, AGENT_FROM_HOST, &m, why, sizeof(why));
	CHECK_INT(agent_decode_create(&m, &d, why, sizeof(why)), -1);
	free(f);
}

TEST(agent_ps_stats_error)
{
	uint32_t pids[] = { 1, 42, 4000 }, out[8];
	size_t len, n;
	struct agent_msg m;
	struct agent_stats s = { 1 << 20, 5000, 3, 0 }, s2;
	struct agent_error e;

	uint8_t *f = agent_encode_ps(pids, 3, &len);
	CHECK(agent_frame_parse(f, len, AGENT_FROM_GUEST, &m, why, sizeof(why)) > 0);
	CHECK_INT(agent_decode_ps(&m, out, 8, &n, why, sizeof(why)), 0);
	CHECK_INT(n, 3);
	CHECK_INT(out[2], 4000);
	CHECK_INT(agent_decode_ps(&m, out, 2, &n, why, sizeof(why)), -1);
	f[16] = 4; /* count disagrees with the length */
	CHECK_INT(agent_decode_ps(&m, out, 8, &n, why, sizeof(why)), -1);
	free(f);

	uint8_t buf[AGENT_HDR_LEN + 32];
	agent_encode_stats(buf, &s);
	CHECK(agent_frame_parse(buf, sizeof(buf), AGENT_FROM_GUEST, &m, why, sizeof(why)) > 0);
	CHECK_INT(agent_decode_stats(&m, &s2, why, sizeof(why)), 0);
	CHECK_INT(s2.memory_current, 1 << 20);
	CHECK_INT(s2.cpu_usage_usec, 5000);
	CHECK_INT(s2.pids_current, 3);

	f = agent_encode_error(5, 127, "exec: \"x\": not found\n\x01", &len);
	CHECK(agent_frame_parse(f, len, AGENT_FROM_GUEST, &m, why, sizeof(why)) > 0);
	CHECK_INT(agent_decode_error(&m, &e, why, sizeof(why)), 0);
	CHECK_INT(e.code, 127);
	CHECK_STR(e.message, "exec: \"x\": not found??");
	free(f);
}

static struct agent_network sample_network(void)
{
	struct agent_network n = { .n = 1 };
	memcpy(n.ifs[0].mac, "\x02\x11\x22\x33\x44\x55", 6);
	n.ifs[0].mtu = 1400;
	n.ifs[0].naddrs = 2;
	n.ifs[0].addrs[0] = (struct agent_addr){ 4, 24, { 10, 0, 0, 2 } };
	n.ifs[0].addrs[1] = (struct agent_addr){ 6, 64, { 0xfd, [15] = 2 } };
	n.ifs[0].nroutes = 1;
	n.ifs[0].routes[0] = (struct agent_route){
		.family = 4, .has_gw = true, .gw = { 10, 0, 0, 1 }, .metric = 7
	};
	return n;
}

/* Decodes the NETWORK frame F (LEN bytes) into OUT: 0 or -1 with why. */
static int decode_network(const uint8_t *f, size_t len, struct agent_network *out)
{
	struct agent_msg m;
	if (agent_frame_parse(f, len, AGENT_FROM_HOST, &m, why, sizeof(why)) != (ssize_t)len)
		return -1;
	return agent_decode_network(&m, out, why, sizeof(why));
}

TEST(agent_network_round_trip_and_checks)
{
	static struct agent_network n, d;
	size_t len;

	n = sample_network();
	uint8_t *f = agent_encode_network(&n, &len);
	CHECK(f);
	CHECK_INT(len, AGENT_HDR_LEN + 2 + 10 + 2 * 18 + 40);
	CHECK_INT(decode_network(f, len, &d), 0);
	CHECK_INT(d.n, 1);
	CHECK(memcmp(d.ifs[0].mac, n.ifs[0].mac, 6) == 0);
	CHECK_INT(d.ifs[0].mtu, 1400);
	CHECK_INT(d.ifs[0].naddrs, 2);
	CHECK(memcmp(&d.ifs[0].addrs[1], &n.ifs[0].addrs[1], sizeof(struct agent_addr)) == 0);
	CHECK_INT(d.ifs[0].routes[0].has_gw, 1);
	CHECK_INT(d.ifs[0].routes[0].gw[3], 1);
	CHECK_INT(d.ifs[0].routes[0].metric, 7);
	/* Interfaces-only offsets: 16 header, 2 count, then the interface. */
	const size_t mac = AGENT_HDR_LEN + 2, mtu = mac + 6, addr0 = mac + 10;
	const size_t route0 = addr0 + 2 * 18;
	struct {
		size_t off;
		uint8_t val;
		const char *msg;
	} bad[] = {
		{ mac, 0x03, "MAC not unicast" },
		{ addr0, 5, "family 5" },
		{ addr0 + 1, 33, "prefix length 33" },
		{ addr0 + 2 + 4, 1, "stray bytes" },
		{ route0 + 2, 2, "bad flags" },
		{ route0 + 3, 1, "bad flags" },
		{ route0 + 4 + 16 + 5, 1, "stray bytes" },
		{ mac + 8, 3, "truncated" },
		{ AGENT_HDR_LEN, 5, "5 interfaces" },
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		uint8_t save = f[bad[k].off];
		f[bad[k].off] = bad[k].val;
		CHECK_INT(decode_network(f, len, &d), -1);
		CHECK(strstr(why, bad[k].msg));
		f[bad[k].off] = save;
	}
	/* MTU 10, both bytes. */
	f[mtu] = 10;
	f[mtu + 1] = 0;
	CHECK_INT(decode_network(f, len, &d), -1);
	CHECK(strstr(why, "MTU 10"));
	f[mtu] = 1400 & 0xff;
	f[mtu + 1] = 1400 >> 8;
	/* A byte too many. */
	uint8_t *g = calloc(1, len + 1);
	CHECK(g);
	memcpy(g, f, len);
	g[12] = (uint8_t)(len + 1 - AGENT_HDR_LEN);
	CHECK_INT(decode_network(g, len + 1, &d), -1);
	CHECK(strstr(why, "trailing"));
	free(g);
	free(f);
	/* The encoder refuses what the decoder would. */
	n.ifs[0].mtu = 0;
	CHECK(!agent_encode_network(&n, &len));
	n = sample_network();
	n.ifs[0].addrs[0].prefixlen = 40;
	CHECK(!agent_encode_network(&n, &len));
	n = sample_network();
	n.n = AGENT_MAX_IFACES + 1;
	CHECK(!agent_encode_network(&n, &len));
	/* None: loopback only, still a frame. */
	n.n = 0;
	f = agent_encode_network(&n, &len);
	CHECK(f);
	CHECK_INT(decode_network(f, len, &d), 0);
	CHECK_INT(d.n, 0);
	free(f);
}

TEST(agent_rx_stream)
{
	int sv[2];
	uint8_t buf[AGENT_HDR_LEN + 8];
	struct agent_rx rx = { 0 };
	struct agent_msg m;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	/* Three frames, the last split across writes. */
	CHECK(agent_send(sv[0], AGENT_STDOUT, 1, "abc", 3) == 0);
	CHECK(agent_send(sv[0], AGENT_STDOUT, 1, NULL, 0) == 0);
	agent_encode_exit(buf, 1, 0, 9);
	CHECK(write(sv[0], buf, 10) == 10);
	CHECK(agent_rx_fill(&rx, sv[1]) > 0);
	CHECK_INT(agent_rx_next(&rx, AGENT_FROM_GUEST, &m, why, sizeof(why)), 1);
	CHECK_INT(m.length, 3);
	CHECK(memcmp(m.payload, "abc", 3) == 0);
	CHECK_INT(agent_rx_next(&rx, AGENT_FROM_GUEST, &m, why, sizeof(why)), 1);
	CHECK_INT(m.length, 0);
	CHECK_INT(agent_rx_next(&rx, AGENT_FROM_GUEST, &m, why, sizeof(why)), 0);
	CHECK(write(sv[0], buf + 10, sizeof(buf) - 10) == (ssize_t)(sizeof(buf) - 10));
	CHECK(agent_rx_fill(&rx, sv[1]) > 0);
	CHECK_INT(agent_rx_next(&rx, AGENT_FROM_GUEST, &m, why, sizeof(why)), 1);
	CHECK_INT(m.type, AGENT_EXIT);
	close(sv[0]);
	CHECK_INT(agent_rx_fill(&rx, sv[1]), 0);
	close(sv[1]);
	agent_rx_free(&rx);
	errno = 0;
	CHECK_INT(agent_send(-1, AGENT_STDOUT, 1, NULL, AGENT_MAX_PAYLOAD + 1), -1);
	CHECK_INT(errno, EMSGSIZE);
}

/* Feeds FILE through the decoder of SIDE the way the fuzz targets do. */
static int replay(const uint8_t *data, size_t len, enum agent_side side)
{
	struct agent_msg m;
	int frames = 0;

	while (len) {
		ssize_t n = agent_frame_parse(data, len, side, &m, why, sizeof(why));
		if (n <= 0)
			break;
		agent_decode_any(&m, why, sizeof(why));
		data += n;
		len -= (size_t)n;
		frames++;
	}
	return frames;
}

TEST(agent_fuzz_corpus_replays)
{
	const char *dir = getenv("HUSK_FUZZ_CORPUS") ? getenv("HUSK_FUZZ_CORPUS")
						     : "tests/fuzz/corpus/agent";
	DIR *d = opendir(dir);
	struct dirent *e;
	int files = 0, frames = 0;

	if (!d)
		SKIP("no tests/fuzz/corpus/agent (run from the repository root)");
	while ((e = readdir(d))) {
		char path[1024];
		static uint8_t data[1 << 16];
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "rb");
		if (!f)
			continue;
		size_t n = fread(data, 1, sizeof(data), f);
		fclose(f);
		frames += replay(data, n, AGENT_FROM_HOST) + replay(data, n, AGENT_FROM_GUEST);
		files++;
	}
	closedir(d);
	CHECK(files >= 5);
	CHECK(frames > 0);
}
