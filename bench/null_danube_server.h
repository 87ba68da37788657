// The Danube services with handlers that do nothing, on gRPC's callback API:
// the protocol ceiling that broker_bench --ceiling measures the broker
// against (issue 12). CreateProducer and Subscribe hand out ids,
// SendMessage, Ack and Nack answer at once, ReceiveMessages streams one
// pre-built message (1 KiB payload by default, with the envelope fields a
// broker fills in) as fast as the stream takes it, with increasing offsets.
#pragma once

#include <cstddef>
#include <string>

namespace frazil::bench {

// Serves on `listen` (HOST:PORT) until the process is killed. Returns a
// process exit code (non-zero if the port could not be bound).
int ServeNullDanube(const std::string& listen, size_t payload_bytes);

}  // namespace frazil::bench
