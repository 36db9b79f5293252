/* Shared body of the agent protocol fuzz targets: every frame the input
 * holds goes through the frame parser and the payload decoder of its type,
 * as the receiving side does it. */
#ifndef HUSK_FUZZ_AGENT_COMMON_H
#define HUSK_FUZZ_AGENT_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/agent_proto.h"

static void fuzz_agent(const uint8_t *data, size_t len, enum agent_side from)
{
	char why[256];
	struct agent_msg m;

	while (len) {
		ssize_t n = agent_frame_parse(data, len, from, &m, why, sizeof(why));
		if (n <= 0)
			return;
		if (agent_decode_any(&m, why, sizeof(why)) == 0 && m.type == AGENT_CREATE) {
			/* What the guest does with a good CREATE: read every byte. */
			static struct agent_create c;
			if (agent_decode_create(&m, &c, why, sizeof(why)) == 0) {
				volatile uint8_t sum = 0;
				for (uint32_t i = 0; i < c.config_len; i++)
					sum += (uint8_t)c.config[i];
				for (uint16_t i = 0; i < c.nbinds; i++)
					sum += (uint8_t)strlen(c.binds[i].tag);
			}
		}
		if (m.type == AGENT_NETWORK) {
			/* A good NETWORK must encode back to the same bytes. */
			static struct agent_network net;
			size_t elen;
			if (agent_decode_network(&m, &net, why, sizeof(why)) == 0) {
				uint8_t *e = agent_encode_network(&net, &elen);
				if (!e || elen != AGENT_HDR_LEN + m.length ||
				    memcmp(e + AGENT_HDR_LEN, m.payload, m.length) != 0)
					__builtin_trap();
				free(e);
			}
		}
		data += n;
		len -= (size_t)n;
	}
}

#endif
