/* libFuzzer: the host's decoder of frames from the guest agent. */
#include "tests/fuzz/fuzz_agent_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	fuzz_agent(data, len, AGENT_FROM_GUEST);
	return 0;
}
